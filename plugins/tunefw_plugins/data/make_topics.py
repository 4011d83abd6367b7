"""Write a small corpus of labelled sentences on four topics, as CSV (columns: text, topic).

    python -m tunefw_plugins.data.make_topics recipes/data/topics.csv

Sentences are drawn from per-topic vocabularies and shared filler, with some words borrowed
from other topics, so a bag-of-words model has to weigh evidence.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

TOPICS = {
    "sports": "match goal team coach season league striker referee score final stadium fans",
    "cooking": "recipe oven flour garlic simmer sauce bake chef onion butter roast spices",
    "computing": "server code compiler cache network bug deploy kernel memory query thread",
    "weather": "rain forecast storm cloud sunny wind temperature snow humid breeze frost",
}
FILLER = [
    "the",
    "a",
    "today",
    "we",
    "our",
    "new",
    "this",
    "after",
    "before",
    "with",
    "very",
    "quite",
    "really",
    "and",
    "then",
]


def make_topics(path: Path, per_topic: int = 60, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    vocab = {topic: words.split() for topic, words in TOPICS.items()}
    rows = []
    for topic, words in vocab.items():
        others = [w for t, ws in vocab.items() if t != topic for w in ws]
        for _ in range(per_topic):
            picked = list(rng.choice(words, 3)) + list(rng.choice(others, 2))
            picked += list(rng.choice(FILLER, 5))
            rng.shuffle(picked)
            rows.append((" ".join(picked), topic))
    rng.shuffle(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["text", "topic"])
        writer.writerows(rows)


if __name__ == "__main__":
    make_topics(Path(sys.argv[1] if len(sys.argv) > 1 else "recipes/data/topics.csv"))
