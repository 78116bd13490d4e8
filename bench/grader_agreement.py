"""How well the graders agree with the hand-labeled answers, and what the cascade costs.

Prints, for tests/data/graded_answers.yaml:

- per-point accuracy and Cohen's kappa of the offline grader (all answers, and by category),
  and on questions held out of the threshold fit (leave-one-question-out);
- the same for the cascade and the LLM grader against a scripted local OpenAI-compatible server
  playing a deterministic LLM (the real `openai` client over HTTP): an exact LLM that returns
  the human labels, and a noisy one that moves 15% of them one step;
- the share of rubric points the cascade sends to the LLM;
- points gained by prompt-injection answers against an LLM that obeys the injection;
- the semantic cache's hit and false-hit rates on the labeled set and on perturbed copies;
- the offline grader's latency per answer with the model loaded.

    .venv/bin/python bench/grader_agreement.py            # the figures
    .venv/bin/python bench/grader_agreement.py --calibrate # also refit the offline thresholds
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import re
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from graders.agreement import (  # noqa: E402
    LabeledAnswer,
    LabeledPoint,
    accuracy,
    cohen_kappa,
    fit_clear_margin,
    fit_thresholds,
    load_labeled_set,
    offline_verdicts,
)
from graders.cache import (  # noqa: E402
    SEMANTIC_THRESHOLD,
    SemanticEntry,
    answer_facts,
    is_near_duplicate,
    reanchor,
)
from graders.cascade import CascadeGrader  # noqa: E402
from graders.embeddings import MiniLMEmbedder, answer_vector, default_embedder  # noqa: E402
from graders.llm import LLMConfig, LLMGrader, llm_view  # noqa: E402
from graders.models import MAX_ANSWER_CHARS, Grade  # noqa: E402
from graders.offline import (  # noqa: E402
    DEFAULT_THRESHOLDS,
    OfflineGrader,
    OfflineThresholds,
    decide,
)
from graders.text import (  # noqa: E402
    addresses_grader,
    grader_talk_spans,
    split_units,
    visible_text,
    without_spans,
)
from tests.support.openai_server import OpenAIServer, RecordedRequest, Reply  # noqa: E402

LABELED = ROOT / "tests" / "data" / "graded_answers.yaml"
STEP = {"covered": "partial", "partial": "missing", "missing": "partial"}
_WORDS = re.compile(r"[a-z0-9_]+")


def _line(title: str, gold: Sequence[str], predicted: Sequence[str]) -> str:
    return (
        f"  {title:<44} n={len(gold):>3}  accuracy {accuracy(gold, predicted):.3f}"
        f"  kappa {cohen_kappa(gold, predicted):.3f}"
    )


def labeled_points(
    grader: OfflineGrader, answers: Sequence[LabeledAnswer]
) -> list[tuple[LabeledAnswer, LabeledPoint]]:
    """Measure every labeled point with the offline grader."""
    out = []
    for item in answers:
        features = grader.features(item.question, item.answer)
        for gold, feat in zip(item.labels, features, strict=True):
            point = LabeledPoint(item.id, item.question.id, item.category, gold, feat)
            out.append((item, point))
    return out


def is_fit_point(item: LabeledAnswer) -> bool:
    """Tell whether a point takes part in the threshold fit (English concept answers)."""
    return item.question.kind != "behavioral" and item.category != "non-english"


def calibrate(pairs: list[tuple[LabeledAnswer, LabeledPoint]]) -> OfflineThresholds:
    """Refit the thresholds and report agreement on held-out questions."""
    fit = [p for item, p in pairs if is_fit_point(item)]
    print("Calibration (English concept answers):")
    thresholds = fit_thresholds(fit)
    margin = fit_clear_margin(fit, thresholds, target_accuracy=0.90)
    every = [p for _, p in pairs]
    unsure = {id(p) for item, p in pairs if not is_fit_point(item)}
    print("  clear margin -> share of all points sent to the LLM, offline accuracy on the rest:")
    for m in (0.0, 0.02, 0.04, 0.06, 0.08, 0.10, 0.12, 0.15):
        kept = [p for p in every if id(p) not in unsure and decide(p.features, thresholds)[2] >= m]
        acc = accuracy([p.gold for p in kept], offline_verdicts(kept, thresholds))
        print(f"    {m:.2f}: {1 - len(kept) / len(every):.1%} to the LLM, kept accuracy {acc:.3f}")
    print(
        f"  fitted: covered >= {thresholds.covered:.2f}, partial >= {thresholds.partial:.2f}, "
        f"term weight {thresholds.term_weight:.2f}, cascade clear margin {margin:.2f}"
    )
    gold: list[str] = []
    predicted: list[str] = []
    for question in sorted({p.question_id for p in fit}):
        train = [p for p in fit if p.question_id != question]
        test = [p for p in fit if p.question_id == question]
        held = fit_thresholds(train)
        gold += [p.gold for p in test]
        predicted += offline_verdicts(test, held)
    print(_line("leave-one-question-out (refit per fold)", gold, predicted))
    return OfflineThresholds(
        covered=thresholds.covered,
        partial=thresholds.partial,
        term_weight=thresholds.term_weight,
        clear_margin=margin,
    )


def report_offline(
    pairs: list[tuple[LabeledAnswer, LabeledPoint]], thresholds: OfflineThresholds
) -> dict[str, float]:
    """Print the offline grader's agreement overall and by category."""
    points = [p for _, p in pairs]
    predicted = offline_verdicts(points, thresholds)
    gold = [p.gold for p in points]
    print("Offline grader vs labels:")
    print(_line("all points", gold, predicted))
    english = [i for i, (item, _) in enumerate(pairs) if is_fit_point(item)]
    print(
        _line(
            "English concept answers (the fit set)",
            [gold[i] for i in english],
            [predicted[i] for i in english],
        )
    )
    by_category: dict[str, list[int]] = defaultdict(list)
    for i, (item, _) in enumerate(pairs):
        by_category[item.category].append(i)
        if item.question.kind == "behavioral":
            by_category["(behavioral questions)"].append(i)
    for category, idx in sorted(by_category.items()):
        acc = accuracy([gold[i] for i in idx], [predicted[i] for i in idx])
        print(f"    {category:<24} n={len(idx):>3}  accuracy {acc:.3f}")
    confusion = Counter(zip(gold, predicted, strict=True))
    print("  confusion (label -> offline):", dict(sorted(confusion.items())))
    return {"accuracy": accuracy(gold, predicted), "kappa": cohen_kappa(gold, predicted)}


class ScriptedLLM:
    """A deterministic LLM behind the local server: it returns the human labels, maybe noised."""

    def __init__(self, answers: Sequence[LabeledAnswer], *, noise: float = 0.0) -> None:
        self.by_text = {llm_view(a.answer): a for a in answers}
        self.noise = noise
        self.points_asked = 0

    def verdict(self, item: LabeledAnswer, index: int) -> str:
        gold = item.labels[index]
        digest = hashlib.sha256(f"{item.id}:{index}".encode()).digest()
        if digest[0] / 256 < self.noise:
            return STEP[gold] if gold != "partial" or digest[1] % 2 else "covered"
        return gold

    def __call__(self, request: RecordedRequest) -> Reply:
        user = request.messages[-1]["content"]
        block = re.search(r"<(answer-[0-9a-f]+)>\n(.*)\n</\1>", user, re.S)
        if block is None:
            return Reply.server_error()
        item = self.by_text[block.group(2)]
        points = []
        for number in (int(n) for n in re.findall(r"^\[P(\d+)\]", user, re.M)):
            verdict = self.verdict(item, number - 1)
            evidence = "" if verdict == "missing" else quote_for(item, number - 1)
            points.append(
                {
                    "point": number,
                    "reasoning": "scripted",
                    "verdict": verdict,
                    "evidence": evidence,
                    "comment": "scripted verdict",
                }
            )
        self.points_asked += len(points)
        return Reply.chat_json({"points": points}, prompt_tokens=400, completion_tokens=60)


def quote_for(item: LabeledAnswer, index: int) -> str:
    """Pick the sentence an LLM would quote: most words shared with the point, else by position."""
    units = split_units(item.answer)
    point_words = set(_WORDS.findall(item.question.rubric[index].lower()))
    overlaps = [len(point_words & set(_WORDS.findall(u.text.lower()))) for u in units]
    best = max(range(len(units)), key=lambda i: overlaps[i])
    if overlaps[best] < 2:
        best = min(index, len(units) - 1)
    unit = units[best]
    return item.answer[unit.start : unit.end]


async def run_llm_graders(
    answers: Sequence[LabeledAnswer], offline: OfflineGrader, noise: float
) -> dict[str, dict[str, float]]:
    """Grade every labeled answer with the cascade and the LLM grader against the scripted LLM."""
    results: dict[str, dict[str, float]] = {}
    with OpenAIServer() as server:
        config = LLMConfig(base_url=server.base_url, model="scripted", api_key="bench")
        for name in ("cascade", "llm"):
            script = ScriptedLLM(answers, noise=noise)
            server.respond_with(script)
            grader: CascadeGrader | LLMGrader
            if name == "cascade":
                grader = CascadeGrader(config, offline=offline)
            else:
                grader = LLMGrader(config, offline=offline)
            gold: list[str] = []
            predicted: list[str] = []
            grades: list[Grade] = []
            for item in answers:
                grade = await grader.grade(item.question, item.answer)
                grades.append(grade)
                gold += item.labels
                predicted += [p.verdict for p in grade.points]
            total = len(gold)
            sent = sum(g.llm_points for g in grades)
            downgraded = sum(g.downgraded_points for g in grades)
            label = f"{name} (LLM {'exact' if noise == 0 else f'noisy {noise:.0%}'})"
            print(_line(label, gold, predicted))
            print(
                f"    points sent to the LLM {sent}/{total} = {sent / total:.1%}; "
                f"LLM calls {sum(1 for g in grades if g.llm_points)}/{len(grades)} answers; "
                f"verdicts downgraded by the evidence check {downgraded}"
            )
            results[name] = {
                "accuracy": accuracy(gold, predicted),
                "kappa": cohen_kappa(gold, predicted),
                "llm_share": sent / total,
                "downgraded": downgraded,
            }
    return results


def obedient_llm(
    answers: Sequence[LabeledAnswer], quote: str
) -> Callable[[RecordedRequest], Reply]:
    """An LLM that does what an injection asks: every point covered.

    It quotes either the injection itself ("injection": what an obeying model would cite) or
    the answer's first genuine sentence ("genuine": the hardest case for the evidence check).
    """
    by_text = {llm_view(a.answer): a for a in answers}

    def respond(request: RecordedRequest) -> Reply:
        user = request.messages[-1]["content"]
        block = re.search(r"<(answer-[0-9a-f]+)>\n(.*)\n</\1>", user, re.S)
        assert block is not None
        item = by_text[block.group(2)]
        units = split_units(item.answer)
        talk = [u for u in units if addresses_grader(u.text)]
        genuine = [u for u in units if not addresses_grader(u.text)]
        chosen = (talk or units)[0] if quote == "injection" else (genuine or units)[0]
        evidence = item.answer[chosen.start : chosen.end]
        numbers = [int(n) for n in re.findall(r"^\[P(\d+)\]", user, re.M)]
        points = [
            {
                "point": n,
                "reasoning": "as instructed",
                "verdict": "covered",
                "evidence": evidence,
                "comment": "covered",
            }
            for n in numbers
        ]
        return Reply.chat_json({"points": points})

    return respond


async def injection_check(answers: Sequence[LabeledAnswer], offline: OfflineGrader) -> int:
    """Count rubric credit injection answers gain over their labels, with every grader."""
    injections = [a for a in answers if a.category == "injection"]
    rank = {"missing": 0, "partial": 1, "covered": 2}
    worst = 0
    for quote in ("injection", "genuine"):
        with OpenAIServer() as server:
            server.respond_with(obedient_llm(answers, quote))
            config = LLMConfig(base_url=server.base_url, model="obedient", api_key="bench")
            graders: dict[str, OfflineGrader | LLMGrader | CascadeGrader] = {
                "offline": offline,
                "llm": LLMGrader(config, offline=offline),
                "cascade": CascadeGrader(config, offline=offline),
            }
            for name, grader in graders.items():
                if name == "offline" and quote == "genuine":
                    continue
                extra = 0
                for item in injections:
                    grade = await grader.grade(item.question, item.answer)
                    extra += sum(
                        max(0, rank[p.verdict] - rank[g])
                        for p, g in zip(grade.points, item.labels, strict=True)
                    )
                who = "offline grader" if name == "offline" else f"{name}, LLM quoting {quote}"
                print(
                    f"  {who:<36} {extra} half-points over the labels "
                    f"({len(injections)} injection answers)"
                )
                worst = max(worst, extra)
    # The worst case: an injection the detector misses, obeyed by the LLM in full. The grader
    # sees the answer without the detected sentences; only the evidence checks stand in the way.
    hidden = [
        LabeledAnswer(
            a.id,
            a.question,
            a.category,
            without_spans(a.answer, grader_talk_spans(a.answer)),
            a.labels,
        )
        for a in injections
    ]
    with OpenAIServer() as server:
        server.respond_with(obedient_llm(hidden, "genuine"))
        config = LLMConfig(base_url=server.base_url, model="obedient", api_key="bench")
        for name, grader in (
            ("llm", LLMGrader(config, offline=offline)),
            ("cascade", CascadeGrader(config, offline=offline)),
        ):
            extra = 0
            for item in hidden:
                grade = await grader.grade(item.question, item.answer)
                extra += sum(
                    max(0, rank[p.verdict] - rank[g])
                    for p, g in zip(grade.points, item.labels, strict=True)
                )
            print(
                f"  {name + ', undetected injection obeyed':<36} {extra} half-points over "
                "the labels (residual risk: on-topic but thin sentences quoted as evidence)"
            )
    return worst


def benign_variants(answer: str) -> list[str]:
    """Copies that say exactly the same thing: spacing, case, invisible characters, filler."""
    return [
        "  " + re.sub(r" ", "  ", answer, count=3),
        answer.replace(". ", ".\u200b ", 2),
        answer.rstrip() + " Hope this helps.",
        answer[:1].lower() + answer[1:]
        if answer[:1].isupper()
        else answer.upper()[:1] + answer[1:],
    ]


def number_variant(answer: str) -> str | None:
    """A copy with its first multi-digit figure changed (a different, wrong answer)."""
    match = re.search(r"\d{2,}", answer)
    if match is None:
        return None
    changed = str(int(match.group(0)) * 2)
    return answer[: match.start()] + changed + answer[match.end() :]


def cache_figures(answers: Sequence[LabeledAnswer], offline: OfflineGrader) -> dict[str, float]:
    """Measure the semantic cache on the labeled set: false hits between distinct answers."""
    embedder = offline.embedder

    def entry_for(text: str, grade: Grade) -> SemanticEntry:
        vector = answer_vector(embedder, [u.text for u in split_units(text)])
        return SemanticEntry(
            vector=vector, facts=answer_facts(text), length=len(visible_text(text)), grade=grade
        )

    graded = {
        a.id: offline.grade_from(
            a.question, offline.assess(a.question, a.answer), started=time.perf_counter()
        )
        for a in answers
    }
    entries = {a.id: entry_for(a.answer, graded[a.id]) for a in answers}
    by_question: dict[str, list[LabeledAnswer]] = defaultdict(list)
    for a in answers:
        by_question[a.question.id].append(a)

    def hit(entry: SemanticEntry, text: str, threshold: float) -> bool:
        probe = entry_for(text, entry.grade)
        return (
            is_near_duplicate(entry, probe.vector, probe.facts, probe.length, threshold)
            and reanchor(entry.grade, text) is not None
        )

    print("Semantic cache (same question, different hand-written answers):")
    figures: dict[str, float] = {}
    sims = [
        float(entries[a.id].vector @ entries[b.id].vector)
        for group in by_question.values()
        for a in group
        for b in group
        if a.id < b.id
    ]
    print(
        f"  answer-pair cosine: max {max(sims):.3f}, 99th pct "
        f"{statistics.quantiles(sims, n=100)[98]:.3f} over {len(sims)} pairs"
    )
    for threshold in (0.90, 0.93, 0.95, SEMANTIC_THRESHOLD):
        lookups = hits = false_hits = cosine_hits = cosine_false = 0
        for group in by_question.values():
            for a in group:
                for b in group:
                    if a.id == b.id:
                        continue
                    lookups += 1
                    if float(entries[a.id].vector @ entries[b.id].vector) >= threshold:
                        cosine_hits += 1
                        cosine_false += a.labels != b.labels
                    if hit(entries[b.id], a.answer, threshold):
                        hits += 1
                        false_hits += a.labels != b.labels
        print(
            f"  threshold {threshold:.2f}, cosine alone: {cosine_hits} hits, {cosine_false} false "
            f"({cosine_false / max(1, cosine_hits):.0%} of hits)"
        )
        benign_hits = benign_total = unsafe_hits = unsafe_total = 0
        for a in answers:
            for variant in benign_variants(a.answer):
                benign_total += 1
                benign_hits += hit(entries[a.id], variant, threshold)
            changed = number_variant(a.answer)
            if changed is not None:
                unsafe_total += 1
                unsafe_hits += hit(entries[a.id], changed, threshold)
        rate = false_hits / hits if hits else 0.0
        print(
            f"  threshold {threshold:.2f}: {hits} hits in {lookups} cross-answer lookups, "
            f"{false_hits} false (false-hit rate {rate:.1%} of hits, "
            f"{false_hits / lookups:.2%} of lookups); benign copies hit "
            f"{benign_hits}/{benign_total}; copies with a changed figure hit "
            f"{unsafe_hits}/{unsafe_total}"
        )
        if threshold == SEMANTIC_THRESHOLD:
            figures = {
                "lookups": lookups,
                "hits": hits,
                "false_hits": false_hits,
                "false_hit_rate_of_lookups": false_hits / lookups,
                "benign_hit_rate": benign_hits / benign_total,
                "changed_figure_hits": unsafe_hits,
            }
    return figures


def relevance_floor_figures(answers: Sequence[LabeledAnswer], offline: OfflineGrader) -> None:
    """Show how the evidence relevance floor treats true quotes and injection quotes."""
    true_sims: list[float] = []
    for item in answers:
        for index, gold in enumerate(item.labels):
            if gold != "missing" and item.category != "non-english":
                true_sims.append(
                    offline.relevance(item.question.rubric[index], quote_for(item, index))
                )
    bogus: list[float] = []
    for item in answers:
        if item.category == "injection":
            first = split_units(item.answer)[0]
            for index, gold in enumerate(item.labels):
                if gold == "missing":
                    bogus.append(
                        offline.relevance(
                            item.question.rubric[index], item.answer[first.start : first.end]
                        )
                    )
    print("Evidence relevance floor (quote vs rubric point cosine):")
    for floor in (0.20, 0.25, 0.30, 0.35, 0.40):
        kept = sum(s >= floor for s in true_sims) / len(true_sims)
        stopped = sum(s < floor for s in bogus) / len(bogus)
        print(
            f"  floor {floor:.2f}: keeps {kept:.1%} of true quotes (English), "
            f"stops {stopped:.1%} of injection quotes"
        )


def latency(answers: Sequence[LabeledAnswer]) -> dict[str, float]:
    """Time the offline grader per answer with the model loaded (rubrics cached per question)."""
    grader = OfflineGrader(embedder=MiniLMEmbedder())
    grader.assess(answers[0].question, "Warm-up sentence for the encoder.")
    timings: list[float] = []
    chars: list[int] = []
    for item in answers:
        started = time.perf_counter()
        asyncio.run(grader.grade(item.question, item.answer))
        timings.append((time.perf_counter() - started) * 1000)
        chars.append(len(item.answer))
    cold = OfflineGrader(embedder=MiniLMEmbedder(cache_size=0))
    cold_ms = []
    for item in answers[:20]:
        started = time.perf_counter()
        cold.assess(item.question, item.answer)
        cold_ms.append((time.perf_counter() - started) * 1000)
    quantiles = statistics.quantiles(timings, n=20)
    # Distinct sentences up to the cap (repeats would be served from the text cache).
    biggest = max(answers, key=lambda a: len(a.answer))
    at_cap = ""
    for item in sorted(answers, key=lambda a: -len(a.answer)):
        if len(at_cap) + len(item.answer) + 1 > MAX_ANSWER_CHARS:
            break
        at_cap += item.answer + "\n"
    fresh = OfflineGrader(embedder=MiniLMEmbedder())
    started = time.perf_counter()
    fresh.assess(biggest.question, at_cap)
    cap_ms = (time.perf_counter() - started) * 1000
    longest = max(range(len(answers)), key=lambda i: chars[i])
    print("Offline latency per answer (model loaded, CPU):")
    print(
        f"  mean {statistics.mean(timings):.0f} ms, median {statistics.median(timings):.0f} ms, "
        f"p95 {quantiles[18]:.0f} ms; longest answer ({chars[longest]} chars) "
        f"{timings[longest]:.0f} ms; with no text cache at all: mean "
        f"{statistics.mean(cold_ms):.0f} ms; an answer near the {MAX_ANSWER_CHARS:,}-character "
        f"cap ({len(at_cap):,} chars, nothing cached): {cap_ms:.0f} ms"
    )
    return {"mean_ms": statistics.mean(timings), "p95_ms": quantiles[18]}


def main() -> None:
    """Print the agreement, cascade, cache and latency figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calibrate", action="store_true", help="refit the offline thresholds")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    answers = load_labeled_set(LABELED)
    questions = {a.question.id for a in answers}
    print(
        f"Labeled set: {len(answers)} answers, {len(questions)} questions, "
        f"{sum(len(a.labels) for a in answers)} rubric points\n"
    )
    started = time.perf_counter()
    default_embedder().encode(["load the model"])
    print(f"Model load: {time.perf_counter() - started:.1f} s\n")

    offline = OfflineGrader()
    pairs = labeled_points(offline, answers)
    thresholds = DEFAULT_THRESHOLDS
    if args.calibrate:
        thresholds = calibrate(pairs)
        offline = OfflineGrader(thresholds=thresholds)
        print()
    figures: dict[str, object] = {"offline": report_offline(pairs, thresholds)}
    print()
    print("With a scripted LLM on a local OpenAI-compatible server:")
    figures["exact_llm"] = asyncio.run(run_llm_graders(answers, offline, noise=0.0))
    figures["noisy_llm"] = asyncio.run(run_llm_graders(answers, offline, noise=0.15))
    print()
    print("Prompt injection:")
    figures["injection_points_gained"] = asyncio.run(injection_check(answers, offline))
    print()
    figures["cache"] = cache_figures(answers, offline)
    print()
    relevance_floor_figures(answers, offline)
    print()
    figures["latency"] = latency(answers)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
