"""Finding, in a file's text, the library calls that would do a drill for the member."""

from __future__ import annotations

import importlib

import pytest

from gpu_runner.drills import DRILLS
from gpu_runner.library_calls import (
    LABEL_SMOOTHING_CALLS,
    LOG_SOFTMAX_CALLS,
    SOFTMAX_CALLS,
    find_library_calls,
)

SOFTMAX_DRILL = SOFTMAX_CALLS + LOG_SOFTMAX_CALLS


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("import torch\ny = torch.softmax(x, -1)\n", "torch.softmax"),
        ("import torch as T\ny = T.special.softmax(x, -1)\n", "torch.special.softmax"),
        ("import torch.nn.functional as F\ny = F.softmax(x, -1)\n", "torch.nn.functional.softmax"),
        (
            "from torch.nn import functional\ny = functional.softmax(x)\n",
            "torch.nn.functional.softmax",
        ),
        ("from torch import softmax as s\ny = s(x, 0)\n", "torch.softmax"),
        ("y = x.softmax(-1)\n", "torch.Tensor.softmax"),
        ("y = x.log_softmax(-1).exp()\n", "torch.Tensor.log_softmax"),
        ("import torch\nf = torch.log_softmax\n", "torch.log_softmax"),
        ("import torch\ny = getattr(x, 'softmax')(-1)\n", "torch.softmax"),
        ("import torch.nn as nn\nlayer = nn.Softmax(dim=-1)\n", "torch.nn.Softmax"),
        ("from torch.nn.functional import *\ny = softmax(x, 0)\n", "torch.nn.functional.softmax"),
    ],
)
def test_every_spelling_of_a_forbidden_call_is_found(source: str, found: str) -> None:
    uses = find_library_calls(source, SOFTMAX_DRILL)
    assert uses and uses[0].call.name == found
    assert uses[0].message().startswith("submission.py line ")


@pytest.mark.parametrize(
    "source",
    [
        "import torch\ne = torch.exp(x - x.amax(-1, keepdim=True))\ny = e / e.sum(-1, True)\n",
        "from torch.nn.functional import *\n\ndef softmax(x, dim=-1):\n    return x.exp()\n",
        "import torch\nsoftmax = 3\n",
        "# torch.softmax would be easier\nnote = 'x.softmax(-1)'\n",
        "this is not python (",
    ],
)
def test_own_code_comments_strings_and_broken_files_are_not_flagged(source: str) -> None:
    assert find_library_calls(source, SOFTMAX_DRILL) == []


@pytest.mark.parametrize(
    ("source", "flagged"),
    [
        ("import torch.nn.functional as F\nF.cross_entropy(a, b, label_smoothing=0.1)\n", True),
        ("import torch.nn.functional as F\nF.cross_entropy(a, b, label_smoothing=eps)\n", True),
        ("import torch.nn.functional as F\nF.cross_entropy(a, b, None, None, -100, None, "
         "'mean', 0.1)\n", True),
        ("import torch.nn.functional as F\nF.cross_entropy(a, b, **options)\n", True),
        ("import torch\ntorch.nn.CrossEntropyLoss(label_smoothing=0.2)\n", True),
        ("import torch.nn.functional as F\nF.cross_entropy(a, b)\n", False),
        ("import torch.nn.functional as F\nF.cross_entropy(a, b, label_smoothing=0.0)\n", False),
    ],
)  # fmt: skip
def test_a_call_forbidden_with_a_keyword_is_flagged_only_with_it(
    source: str, flagged: bool
) -> None:
    assert bool(find_library_calls(source, LABEL_SMOOTHING_CALLS)) is flagged


def _resolve(name: str) -> object:
    parts = name.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            owner: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            owner = getattr(owner, attr)
        return owner
    raise ImportError(name)


@pytest.mark.parametrize("drill_id", [d for d in DRILLS if DRILLS[d].library_calls])
def test_every_forbidden_call_a_drill_names_exists_in_the_installed_torch(drill_id: str) -> None:
    pytest.importorskip("torch")
    drill = DRILLS[drill_id]
    for call in drill.public_library_calls():
        assert callable(_resolve(call.name)), call.name
    assert "Not allowed" in drill.description
    assert drill.summary()["not_allowed"]
