"""How well the graders agree with the hand-labeled answers, and what the cascade costs.

Prints, for tests/data/graded_answers.yaml, on the HELD-OUT questions only (nothing fitted sees
them):

- per-point accuracy and Cohen's kappa of the offline grader, overall (English) and for each kind
  of answer, with non-English answers apart; how often wrong answers are over-credited; against
  keyword overlap (thresholds fitted on the fit part) as a baseline;
- the cascade and the LLM grader against a scripted local OpenAI-compatible server playing a
  faithful LLM (it returns the human labels and quotes the labeled evidence), and a noisy one
  that moves 15% of them one step: agreement and the share of points sent to the LLM;
- points gained by prompt-injection answers, offline and against an LLM that obeys them;
- the semantic cache's hit and false-hit rates;
- the offline grader's latency per answer (p50/p95) with the model loaded;
- the share of the questions posted over the curriculum that can be graded (rubric or sketch).

Recorded before the calibrated grader (embedding thresholds with key terms, measured on the same
held-out English points): per-point accuracy 0.597, kappa 0.342; padded answers 0.319; wrong
answers over-credited on 14 of 47 points (30%); keyword overlap on the same points 0.561 / 0.337.

Recorded before the role checks and the substance feature (frame_gap), same held-out English
points: accuracy 0.749, kappa 0.589; strong 0.894, wrong 0.894 (over-credited 11%), terse 0.788,
padded 0.617, partial 0.596, injection 0.500; fresh check answers 0.628 / kappa 0.364 (role
swaps 0.417). After: 0.745 / 0.584; strong 0.915, wrong 0.915 (9%), terse 0.818, padded 0.553,
partial 0.574; fresh check answers 0.692 / 0.469 (role swaps 0.833).

Recorded before the negation-scope fixes (one-word negations, the words before a negation, "X,
not Y", conditions, "drops X"), the governed direction words, orders said of the contrasted thing,
the answer-wide and on-point features and C chosen by log-loss: held-out English 0.745 / kappa
0.584; padded 0.553, partial 0.574, strong 0.915, terse 0.818, wrong 0.915 (over-credited 9%);
cascade LLM share 30.5%; fresh check answers 0.692 / 0.469. After: 0.770 / 0.624; padded 0.574,
partial 0.596, strong 0.957, terse 0.788, wrong 0.979 (2%); cascade LLM share 24.3%; fresh check
answers 0.731 / 0.538. Gradient-boosted trees on the same features (measured before the last
two rules) scored higher in question-grouped cross-validation (kappa 0.705 against 0.654;
held-out 0.774 / 0.638) by leaning on answer length (a third of their gain; 0.649 without it),
and did worse on the fresh check answers (0.718 / 0.517 against 0.756 / 0.585), so the model
stays a logistic regression.

Recorded before "without X, Y" was read as the same claim as "X, so not Y" (same weights):
0.770 / 0.624, partial 0.596; after: 0.774 / 0.632, partial 0.617, every other kind and the
fresh check answers unchanged.

Recorded when other writers joined the set. 350 answers to 50 more questions were written and
labeled by two further groups of writers who never saw the grader, only the labeling guide (the
second in the first answers' register, the third in freer styles: bullet lists, hedges, chat
abbreviations, subtler errors); 16 of those questions joined the held-out part. The grader fitted
on the first writers alone, measured on the second writers' 25 questions before any of them was
fitted: 0.635 / kappa 0.418, wrong answers over-credited on 35 of 76 points (the independent
check of the first release measured 0.63 / 0.38). The held-out part alone of the first writers
went from 0.774 / 0.632 to 0.795 / 0.668 with the refit on all three groups, the claim fixes
(bounds such as "<3B", more opposite pairs, "a single" as a count) and grader talk found as the
LLM path finds it. On the held-out questions of the later writers: second 0.669 / 0.467, third
0.584 / 0.375; all held-out English points 0.697 / 0.523; the cascade with the faithful LLM
0.803 / 0.694, sending 30.1% of points to the LLM.

Recorded when a fourth group joined: 392 answers to 56 more questions, written as candidates talk
and type (spoken transcripts, non-native English, long answers with tangents, markdown notes)
with errors by meaning (swapped roles and mechanisms) and grader talk in forms of their own. All
56 questions are held out, so one group is one nothing fitted has seen. The shipped model scored
them 0.612 / kappa 0.381, wrong answers over-credited on 57% of their points, strong above wrong
in 29 of 52 pairs. Refitting on all four groups did not help (held-out 0.665 / 0.469 against
0.674 / 0.483 for the shipped model on the same points; the first writers' held-out fell to
0.762), so the model stays fitted on the first three. The detector found grader talk in 18 of
their 30 injection answers before its patterns were widened and in all 30 after; on 40 answers
written later by someone else, 19 before and 29 after, with 1 of 40 hard negatives flagged. A
sentence now ends after its closing bracket or quote, so a bracketed note to the grader no longer
takes the next genuine sentence out with it. All held-out English points, four groups: 0.648 /
0.441 (keyword overlap 0.529 / 0.307); the cascade with the faithful LLM 0.771 / 0.640, sending
30.6% of points to the LLM.

Recorded when word-piece alignment joined the features (graders/alignment.py: each of a point's
content word pieces matched, in context, with its closest piece in the answer, so a paraphrase
counts without its literal tokens; chosen on the fit part alone, where the question-grouped
cross-validated log-loss fell from 0.653 to 0.627). Held-out English, four groups: 0.648 /
0.441 -> 0.660 / 0.461; first writers 0.795 / 0.668 -> 0.778 / 0.644, second 0.669 / 0.467
unchanged, third 0.584 / 0.375 -> 0.609 / 0.413, fourth 0.613 / 0.383 -> 0.633 / 0.416; wrong
answers over-credited on 42% -> 40% of their points; fresh check answers 0.692 / 0.476 ->
0.718 / 0.512; the cascade with the faithful LLM 0.771 / 0.640 -> 0.776 / 0.650, sending 30.4%
of points to the LLM. Latency per answer on the same machine, measured back to back: p50 66-84
ms before and 73-84 ms after (the pieces come from the pass that encodes the sentences; the
alignment itself takes about 2 ms an answer).

Recorded when the encoder moved to ONNX Runtime (graders/embeddings.py: the bundled weights
exported once to ONNX by torch's exporter; the same pieces and vectors as sentence-transformers on
PyTorch to within 1e-5, so every agreement figure above is unchanged: held-out English 0.660 /
0.461, wrong answers over-credited on 40% of their points, 30.4% of points to the LLM). Latency
per answer, both runtimes in the same run: p50 44 ms on PyTorch, 24 ms on ONNX Runtime (0.54x);
p95 111 -> 65 ms (0.58x). Model load 0.2 s (cached export) against several seconds for torch.

    .venv/bin/python bench/grader_agreement.py             # the figures
    .venv/bin/python bench/grader_agreement.py --calibrate # refit the verdict model, then figures
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
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from graders import embeddings  # noqa: E402
from graders.agreement import (  # noqa: E402
    LabeledAnswer,
    accuracy,
    cohen_kappa,
    load_check_set,
    load_labeled_set,
)
from graders.cache import (  # noqa: E402
    SEMANTIC_THRESHOLD,
    SemanticEntry,
    answer_facts,
    is_near_duplicate,
    reanchor,
)
from graders.cascade import CascadeGrader  # noqa: E402
from graders.embeddings import (  # noqa: E402
    Encoder,
    MiniLMEmbedder,
    answer_vector,
    default_embedder,
)
from graders.injection import overlaps  # noqa: E402
from graders.llm import LLMConfig, LLMGrader, llm_view  # noqa: E402
from graders.models import MAX_ANSWER_CHARS, VERDICTS, Grade, Verdict  # noqa: E402
from graders.offline import OfflineGrader, decide_point  # noqa: E402
from graders.text import (  # noqa: E402
    split_units,
    visible_text,
    without_spans,
)
from graders.verdict_model import (  # noqa: E402
    VerdictModel,
    default_model,
    default_model_path,
    fit_verdict_model,
    with_cutoff,
)
from tests.support.openai_server import OpenAIServer, RecordedRequest, Reply  # noqa: E402

LABELED = ROOT / "tests" / "data" / "graded_answers.yaml"
# Answers written in another voice and labeled before any grader saw them; never fitted on.
FRESH = ROOT / "tests" / "data" / "fresh_answers.yaml"
STEP = {"covered": "partial", "partial": "missing", "missing": "partial"}
_WORDS = re.compile(r"[a-z0-9_]+")


def _line(title: str, gold: Sequence[str], predicted: Sequence[str]) -> str:
    if not gold:
        return f"  {title:<44} n=  0"
    return (
        f"  {title:<44} n={len(gold):>3}  accuracy {accuracy(gold, predicted):.3f}"
        f"  kappa {cohen_kappa(gold, predicted):.3f}"
    )


RANK = {"missing": 0, "partial": 1, "covered": 2}


@dataclass
class Measured:
    """One labeled point with what the offline grader measured for it."""

    item: LabeledAnswer
    index: int
    gold: Verdict
    values: dict[str, float]


def measure(grader: OfflineGrader, answers: Sequence[LabeledAnswer]) -> list[Measured]:
    """Measure every labeled point with the offline grader."""
    out: list[Measured] = []
    for item in answers:
        for index, feat in enumerate(grader.features(item.question, item.answer)):
            out.append(Measured(item, index, item.labels[index], feat.values))
    return out


def is_english(item: LabeledAnswer) -> bool:
    """Tell whether the goals apply to the answer (the encoder compares meaning in English)."""
    return item.category != "non-english"


def _groups(points: Sequence[Measured], folds: int) -> list[list[int]]:
    questions = sorted({p.item.question.id for p in points})
    order = sorted(questions, key=lambda q: hashlib.sha256(q.encode()).hexdigest())
    fold_of = {q: i % folds for i, q in enumerate(order)}
    return [
        [i for i, p in enumerate(points) if fold_of[p.item.question.id] == f] for f in range(folds)
    ]


def out_of_fold(points: Sequence[Measured], c: float, folds: int = 6) -> np.ndarray:
    """Return each fit point's verdict probabilities from a model fitted without its question."""
    probs = np.zeros((len(points), 3))
    for test in _groups(points, folds):
        held = set(test)
        train = [p for i, p in enumerate(points) if i not in held]
        model = fit_verdict_model([p.values for p in train], [p.gold for p in train], c=c)
        rows = np.array([model.vector(points[i].values) for i in test])
        probs[test] = model.probabilities(rows)
    return probs


def calibrate(measured: Sequence[Measured], target_share: float = 0.22) -> VerdictModel:
    """Fit the verdict model and the cascade cut-off on the fit part; write them as JSON."""
    fit = [p for p in measured if not p.item.held_out and is_english(p.item)]
    print(
        f"Calibration on the fit part: {len(fit)} points, "
        f"{len({p.item.question.id for p in fit})} questions"
    )
    # C is chosen by the out-of-fold log-loss: a proper score of the probabilities the cascade
    # relies on, and steadier on a few hundred points than kappa, which moves with a handful of
    # verdicts near a boundary.
    scores: dict[float, tuple[float, float, float]] = {}  # C: kappa, accuracy, log-loss
    gold = [p.gold for p in fit]
    codes = np.array([VERDICTS.index(g) for g in gold])
    for c in (0.03, 0.1, 0.3, 1.0, 3.0):
        probs = out_of_fold(fit, c)
        predicted = [VERDICTS[int(i)] for i in probs.argmax(axis=1)]
        kappa = cohen_kappa(gold, predicted)
        acc = accuracy(gold, predicted)
        loss = float(-np.mean(np.log(np.maximum(probs[np.arange(len(codes)), codes], 1e-12))))
        print(
            f"  C={c:<5} question-grouped cross-validation: log-loss {loss:.4f} "
            f"accuracy {acc:.3f} kappa {kappa:.3f}"
        )
        scores[c] = (kappa, acc, loss)
    c = min(scores, key=lambda k: scores[k][2])
    # A log-loss within 0.001 of the best is noise on a thousand-odd points: the C the shipped
    # model was fitted with then stays, so a refit after a small change of features does not move
    # the model for nothing.
    try:
        shipped = (default_model().fitted_on or {}).get("c")
    except ValueError:  # the shipped model measured features that are gone: nothing to keep
        shipped = None
    if shipped in scores and shipped != c and scores[shipped][2] <= scores[c][2] + 0.001:
        print(f"  C={shipped} (the shipped model's) is within 0.001 of the best log-loss: kept")
        c = shipped
    cv_kappa, cv_accuracy, cv_log_loss = scores[c]
    probs = out_of_fold(fit, c)
    confidence = probs.max(axis=1)
    # The cut-off sends the least sure share of points to the LLM.
    cut = float(np.quantile(confidence, target_share))
    kept = confidence >= cut
    predicted = [VERDICTS[int(i)] for i in probs.argmax(axis=1)]
    kept_acc = accuracy(
        [g for g, k in zip(gold, kept, strict=True) if k],
        [v for v, k in zip(predicted, kept, strict=True) if k],
    )
    print(
        f"  chosen C={c}; cascade cut-off {cut:.3f} sends {1 - kept.mean():.1%} of fit points to "
        f"the LLM, offline accuracy on the rest {kept_acc:.3f} (out of fold)"
    )
    model = fit_verdict_model([p.values for p in fit], gold, c=c)
    model = with_cutoff(
        model,
        cut,
        points=len(fit),
        questions=len({p.item.question.id for p in fit}),
        c=c,
        cv_accuracy=round(cv_accuracy, 4),
        cv_kappa=round(cv_kappa, 4),
        cv_log_loss=round(cv_log_loss, 4),
        llm_share_target=target_share,
    )
    path = default_model_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(model.to_json() + "\n", encoding="utf-8")
    print(f"  wrote {path.relative_to(ROOT)}")
    return model


def report_fresh(grader: OfflineGrader) -> dict[str, object]:
    """Print the offline grader's agreement on the fresh check answers, overall and by kind."""
    answers = load_check_set(FRESH, LABELED)
    gold: list[str] = []
    predicted: list[str] = []
    by_kind: dict[str, tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
    for item in answers:
        verdicts = [p.verdict for p in grader.assess(item.question, item.answer).points]
        gold += item.labels
        predicted += verdicts
        for kind in {item.category, item.kind}:
            by_kind[kind][0].extend(item.labels)
            by_kind[kind][1].extend(verdicts)
    print(f"Fresh check answers ({len(answers)} answers, labeled before grading, never fitted):")
    print(_line("all points", gold, predicted))
    for kind, (g, v) in sorted(by_kind.items()):
        over = sum(RANK[b] > RANK[a] for a, b in zip(g, v, strict=True))
        under = sum(RANK[b] < RANK[a] for a, b in zip(g, v, strict=True))
        print(
            f"    {kind:<12} n={len(g):>3}  accuracy {accuracy(g, v):.3f}"
            f"  over-credited {over:>2}  under-credited {under:>2}"
        )
    over = sum(RANK[b] > RANK[a] for a, b in zip(gold, predicted, strict=True))
    return {
        "accuracy": accuracy(gold, predicted),
        "kappa": cohen_kappa(gold, predicted),
        "over": over / len(gold),
    }


def keyword_baseline(measured: Sequence[Measured]) -> list[str]:
    """Keyword overlap: share of the point's words in the answer, cut-offs fitted on fit."""
    score = {id(p): p.values["coverage_answer"] for p in measured}
    fit = [p for p in measured if not p.item.held_out and is_english(p.item)]
    gold = [p.gold for p in fit]
    best: tuple[float, float, float] | None = None
    grid = [i / 20 for i in range(21)]
    for lo in grid:
        for hi in grid:
            if hi < lo:
                continue
            predicted = [_cut(score[id(p)], lo, hi) for p in fit]
            kappa = cohen_kappa(gold, predicted)
            if best is None or kappa > best[0]:
                best = (kappa, lo, hi)
    assert best is not None
    return [_cut(score[id(p)], best[1], best[2]) for p in measured]


def _cut(value: float, lo: float, hi: float) -> str:
    return "covered" if value >= hi else "partial" if value >= lo else "missing"


def report_offline(measured: Sequence[Measured], grader: OfflineGrader) -> dict[str, object]:
    """Print the offline grader's agreement on the held-out questions, overall and by kind."""
    model = grader.model
    items = {p.item.id: p.item for p in measured}
    talk = {item_id: bool(grader.talk_spans(item.answer)) for item_id, item in items.items()}
    verdicts = [
        decide_point(model, p.values, grader_talk=talk[p.item.id], kind=p.item.question.kind)[0]
        for p in measured
    ]
    baseline = keyword_baseline(measured)
    held = [i for i, p in enumerate(measured) if p.item.held_out]
    english = [i for i in held if is_english(measured[i].item)]
    held_q = sorted({measured[i].item.question.id for i in held})
    print(
        f"Held-out part: {len({measured[i].item.id for i in held})} answers to "
        f"{len(held_q)} questions, {len(held)} points"
    )
    print("Offline grader vs labels (held-out questions):")

    def pick(idx: Sequence[int], seq: Sequence[str]) -> list[str]:
        return [seq[i] for i in idx]

    gold = [p.gold for p in measured]
    figures: dict[str, object] = {
        "accuracy": accuracy(pick(english, gold), pick(english, verdicts)),
        "kappa": cohen_kappa(pick(english, gold), pick(english, verdicts)),
        "baseline_accuracy": accuracy(pick(english, gold), pick(english, baseline)),
        "baseline_kappa": cohen_kappa(pick(english, gold), pick(english, baseline)),
    }
    print(_line("English answers", pick(english, gold), pick(english, verdicts)))
    print(
        _line(
            "  keyword overlap baseline, same points", pick(english, gold), pick(english, baseline)
        )
    )
    for writers in ("first", "second", "third", "fourth"):
        group = [i for i in english if measured[i].item.writers == writers]
        print(
            _line(f"  answers by the {writers} writers", pick(group, gold), pick(group, verdicts))
        )
        if group:
            figures[f"{writers}_writers"] = {
                "accuracy": accuracy(pick(group, gold), pick(group, verdicts)),
                "kappa": cohen_kappa(pick(group, gold), pick(group, verdicts)),
            }
    concept = [i for i in english if measured[i].item.question.kind != "behavioral"]
    print(
        _line("English, concept and coding questions", pick(concept, gold), pick(concept, verdicts))
    )
    by_kind: dict[str, list[int]] = defaultdict(list)
    for i in held:
        by_kind[measured[i].item.category].append(i)
    kinds: dict[str, dict[str, float]] = {}
    for kind, idx in sorted(by_kind.items()):
        g, v = pick(idx, gold), pick(idx, verdicts)
        over = sum(RANK[b] > RANK[a] for a, b in zip(g, v, strict=True))
        under = sum(RANK[b] < RANK[a] for a, b in zip(g, v, strict=True))
        kappa = cohen_kappa(g, v) if len(set(g) | set(v)) > 1 else float("nan")
        print(
            f"    {kind:<12} n={len(idx):>3}  accuracy {accuracy(g, v):.3f}  kappa {kappa:6.3f}"
            f"  over-credited {over:>2} ({over / len(idx):.0%})  under-credited {under:>2}"
        )
        kinds[kind] = {"accuracy": accuracy(g, v), "kappa": kappa, "over": over / len(idx)}
    figures["by_kind"] = kinds
    injections = [i for i in held if measured[i].item.category == "injection"]
    gained = sum(max(0, RANK[verdicts[i]] - RANK[gold[i]]) for i in injections)
    print(f"  injection answers gained {gained} half-points over their labels (held-out)")
    figures["injection_gain"] = gained
    # What the injected sentences themselves earn: each injection answer graded as it is against
    # the same answer with them cut out (an over-credit of the genuine sentences is not theirs).
    from_talk = 0
    for item in {measured[i].item.id: measured[i].item for i in injections}.values():
        spans = grader.talk_spans(item.answer)
        with_talk = grader.assess(item.question, item.answer).points
        without = grader.assess(item.question, without_spans(item.answer, spans)).points
        from_talk += sum(
            max(0, RANK[a.verdict] - RANK[b.verdict])
            for a, b in zip(with_talk, without, strict=True)
        )
    print(f"  of which earned by the sentences addressed to the grader: {from_talk}")
    figures["injection_gain_from_talk"] = from_talk
    confusion = Counter(zip(pick(english, gold), pick(english, verdicts), strict=True))
    print("  confusion (label -> offline):", dict(sorted(confusion.items())))
    fit_idx = [i for i, p in enumerate(measured) if not p.item.held_out and is_english(p.item)]
    print(
        _line("(fit part, in-sample, for reference)", pick(fit_idx, gold), pick(fit_idx, verdicts))
    )
    return figures


@dataclass(frozen=True)
class AnswerViews:
    """The labeled answers as the grader may show them to the LLM, computed once per script."""

    # as shown with the sentences the text patterns take for grader talk cut out
    by_text: dict[str, LabeledAnswer]
    # whole, whitespace-flattened (code fences and quotes normalised as the LLM sees them)
    wholes: list[tuple[str, LabeledAnswer]]

    @classmethod
    def of(cls, answers: Sequence[LabeledAnswer]) -> AnswerViews:
        """Return the views of the answers."""
        return cls(
            by_text={llm_view(a.answer): a for a in answers},
            wholes=[(" ".join(llm_view(a.answer, []).split()), a) for a in answers],
        )


class ScriptedLLM:
    """A deterministic LLM behind the local server: it returns the human labels, maybe noised."""

    def __init__(self, answers: Sequence[LabeledAnswer], *, noise: float = 0.0) -> None:
        self.views = AnswerViews.of(answers)
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
        if "<rubric_points>" not in user and "[P" not in user:
            # A side request (the grader-talk classifier): nothing is addressed to the grader.
            return Reply.chat_json({"sentences": []})
        block = re.search(r"<(answer-[0-9a-f]+)>\n(.*)\n</\1>", user, re.S)
        if block is None:
            return Reply.server_error()
        item = shown_item(self.views, block.group(2))
        if item is None:
            return Reply.server_error()
        points = []
        for number, index in listed_points(user, item.question.rubric):
            verdict = self.verdict(item, index)
            evidence = "" if verdict == "missing" else quote_for(item, index)
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


def shown_item(views: AnswerViews, shown: str) -> LabeledAnswer | None:
    """Return the labeled answer the grader showed (it may have cut sentences it took for talk)."""
    if shown in views.by_text:
        return views.by_text[shown]
    flat = " ".join(shown.split())
    for text, item in views.by_text.items():
        other = " ".join(text.split())
        if flat == other or (flat and (flat in other or other in flat)):
            return item
    # Compared with each answer as the LLM sees it, nothing cut (code fences and quotes are
    # normalised there, so the raw answer may not contain what was shown).
    for whole, item in views.wholes:
        if flat and flat in whole:
            return item
    # Whole sentences were cut from the middle: every sentence shown is one of the answer's.
    pieces = [" ".join(u.text.split()) for u in split_units(shown)]
    for whole, item in views.wholes:
        if pieces and all(piece in whole for piece in pieces):
            return item
    return None


def listed_points(prompt: str, rubric: Sequence[str]) -> list[tuple[int, int]]:
    """Return (id the grader uses, rubric index) for each point the prompt lists.

    The prompt lists the points as JSON in a <rubric_points> block, shuffled, with stable ids.
    """
    block = re.search(r"<rubric_points>\n?(.*?)\n?</rubric_points>", prompt, re.S)
    if block is None:
        return [(int(n), int(n) - 1) for n in re.findall(r"^\[P(\d+)\]", prompt, re.M)]
    flat = [" ".join(p.split()) for p in rubric]
    return [
        (int(entry["id"]), flat.index(" ".join(str(entry["text"]).split())))
        for entry in json.loads(block.group(1))
    ]


def quote_for(item: LabeledAnswer, index: int) -> str:
    """Return the sentence the labels say earns the point (the faithful LLM's quote)."""
    quote = item.evidence[index] if item.evidence else None
    if quote:
        return quote
    unit = split_units(item.answer)[0]
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
    answers: Sequence[LabeledAnswer], quote: str, offline: OfflineGrader
) -> Callable[[RecordedRequest], Reply]:
    """An LLM that does what an injection asks: every point covered.

    It quotes either the injection itself ("injection": what an obeying model would cite) or
    the answer's first genuine sentence ("genuine": the hardest case for the evidence check).
    """
    views = AnswerViews.of(answers)

    def respond(request: RecordedRequest) -> Reply:
        user = request.messages[-1]["content"]
        if "<rubric_points>" not in user and "[P" not in user:
            return Reply.chat_json({"sentences": []})
        block = re.search(r"<(answer-[0-9a-f]+)>\n(.*)\n</\1>", user, re.S)
        assert block is not None
        item = shown_item(views, block.group(2))
        if item is None:
            return Reply.server_error()
        units = split_units(item.answer)
        spans = offline.talk_detector.spans(item.answer)
        talk = [u for u in units if overlaps((u.start, u.end), spans)]
        genuine = [u for u in units if not overlaps((u.start, u.end), spans)]
        chosen = (talk or units)[0] if quote == "injection" else (genuine or units)[0]
        evidence = item.answer[chosen.start : chosen.end]
        numbers = [n for n, _ in listed_points(user, item.question.rubric)]
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
            server.respond_with(obedient_llm(answers, quote, offline))
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
            without_spans(a.answer, offline.talk_detector.spans(a.answer)),
            a.labels,
        )
        for a in injections
    ]
    with OpenAIServer() as server:
        server.respond_with(obedient_llm(hidden, "genuine", offline))
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
    """Time the offline grader per answer with the model loaded, on each encoder runtime."""
    from graders.embeddings import OnnxEncoder, TorchEncoder, encoder_runtime, model_dir

    default_embedder().encode(["load the encoder"])
    runtimes: list[tuple[str, Encoder]] = [(encoder_runtime(), embeddings._load_model())]
    if isinstance(runtimes[0][1], OnnxEncoder):
        runtimes.append(("PyTorch", TorchEncoder(model_dir())))
    figures: dict[str, float] = {}
    print("Offline latency per answer (model loaded, rubrics encoded, 2 CPU cores):")
    for prefix, (name, encoder) in zip(("", "torch_"), runtimes, strict=False):
        grader = OfflineGrader(embedder=MiniLMEmbedder(encoder=encoder))
        for question in {item.question.id: item.question for item in answers}.values():
            # What the grader encodes of a question (its points, their clauses, glosses and bare
            # word lists, the question) is encoded once per process, as in the bot.
            grader.assess(question, "Warm-up sentence for the encoder.")
        timings: list[float] = []
        for item in answers:
            started = time.perf_counter()
            asyncio.run(grader.grade(item.question, item.answer))
            timings.append((time.perf_counter() - started) * 1000)
        quantiles = statistics.quantiles(timings, n=20)
        at_cap = ""
        for item in sorted(answers, key=lambda a: -len(a.answer)):
            if len(at_cap) + len(item.answer) + 1 > MAX_ANSWER_CHARS:
                break
            at_cap += item.answer + "\n"
        started = time.perf_counter()
        grader.assess(answers[0].question, at_cap)
        cap_ms = (time.perf_counter() - started) * 1000
        print(
            f"  {name + ':':14} p50 {statistics.median(timings):.0f} ms, "
            f"p95 {quantiles[18]:.0f} ms, mean {statistics.mean(timings):.0f} ms over "
            f"{len(timings)} answers; an answer near the {MAX_ANSWER_CHARS:,}-character cap "
            f"({len(at_cap):,} chars): {cap_ms:.0f} ms"
        )
        figures[f"{prefix}p50_ms"] = statistics.median(timings)
        figures[f"{prefix}p95_ms"] = quantiles[18]
    if "torch_p50_ms" in figures:
        print(
            f"  ONNX Runtime / PyTorch: p50 {figures['p50_ms'] / figures['torch_p50_ms']:.2f}x, "
            f"p95 {figures['p95_ms'] / figures['torch_p95_ms']:.2f}x"
        )
    return figures


def gradable_share() -> dict[str, float]:
    """Print the share of posted questions that can be graded, without and with sketch points."""
    from content import load_library
    from content.schema import Question

    library = load_library()
    total = with_rubric = gradable = 0
    for plan in library.days():
        for question in plan.questions:
            total += 1
            found = library.find_question(question.id)
            bank = found if isinstance(found, Question) else found.bank
            with_rubric += bool(bank is not None and bank.rubric)
            gradable += bool(library.rubric_for(question.id))
    print(f"Questions posted over the {library.days_total} days: {total}")
    print(f"  gradable against a rubric only:         {with_rubric} = {with_rubric / total:.1%}")
    print(f"  gradable with the solution-sketch points: {gradable} = {gradable / total:.1%}")
    return {"before": with_rubric / total, "after": gradable / total}


def main() -> None:
    """Print the agreement, cascade, injection, cache, latency and coverage figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calibrate", action="store_true", help="refit the verdict model")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--quick", action="store_true", help="agreement only (no LLM, cache)")
    args = parser.parse_args()

    answers = load_labeled_set(LABELED)
    questions = {a.question.id for a in answers}
    held = [a for a in answers if a.held_out]
    print(
        f"Labeled set: {len(answers)} answers, {len(questions)} questions, "
        f"{sum(len(a.labels) for a in answers)} rubric points; held out: {len(held)} answers to "
        f"{len({a.question.id for a in held})} questions\n"
    )
    started = time.perf_counter()
    default_embedder().encode(["load the model"])
    print(f"Model load: {time.perf_counter() - started:.1f} s\n")

    offline = OfflineGrader()
    measured = measure(offline, answers)
    if args.calibrate:
        model = calibrate(measured)
        offline = OfflineGrader(model=model)
        print()
    figures: dict[str, object] = {"offline": report_offline(measured, offline)}
    print()
    figures["fresh"] = report_fresh(offline)
    print()
    held_english = [a for a in held if is_english(a)]
    if not args.quick:
        print("With a scripted LLM on a local OpenAI-compatible server (held-out, English):")
        figures["exact_llm"] = asyncio.run(run_llm_graders(held_english, offline, noise=0.0))
        figures["noisy_llm"] = asyncio.run(run_llm_graders(held_english, offline, noise=0.15))
        non_english = [a for a in held if not is_english(a)]
        print("Non-English answers (held-out), cascade with the faithful LLM:")
        figures["non_english"] = asyncio.run(run_llm_graders(non_english, offline, noise=0.0))
        print()
        print("Prompt injection (every injection answer in the set):")
        figures["injection_points_gained"] = asyncio.run(injection_check(answers, offline))
        print()
        figures["cache"] = cache_figures(answers, offline)
        print()
        relevance_floor_figures(answers, offline)
        print()
    figures["latency"] = latency(held_english)
    print()
    figures["gradable"] = gradable_share()
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))


if __name__ == "__main__":
    main()
