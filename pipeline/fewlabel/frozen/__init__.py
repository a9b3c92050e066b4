"""The pretrained encoder kept fixed, a softmax head trained on the labelled images: a linear probe."""

from pipeline.fewlabel.supervised import Params  # noqa: F401  (the same settings: steps, batch size, rate)

TITLE = "frozen encoder, head trained on labels"
SUMMARY = "*frozen* (only the head learns)"
ORDER = 2
