"""Key phrases of a text, and the concepts two texts share.

A reason that says "close to X" should say what links the two papers, not only
that an embedding thinks they are near. Here a *concept* is a key phrase: a run of
content words (stop words and research boilerplate split the runs, as in RAKE),
taken as its unigrams, bigrams and trigrams after a light plural folding. Two texts
share a concept when both hold the phrase. A single common word ("reaction",
"cluster", "covariance") is not a shared idea: single words count only when they are
acronyms (QCD, LSTM). A multi-word phrase counts when it recurs in the collection at hand
(a phrase found in one abstract only is a turn of phrase, not a term), is not common there
("neural network" links nothing in a pile of ML papers), and holds a word that is not
boilerplate.

Pure: texts in, phrases out. :class:`Vocabulary` holds document frequencies over a
collection (a day's candidates and the readers' papers) so rarity is measured on
the material being ranked.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

WORD = re.compile(r"[a-z][a-z0-9]*")  # hyphens split: "mixture-of-experts" is "mixture of experts"
# Function words, and words that appear in every kind of abstract: they split phrases.
STOP = set("""
a about above across after again against all almost also although always among an and another any are
around as at away be because been before being below between both but by can cannot could did do does
doing done down due during each either else enough especially etc even ever every few first for from
further had has have having here how however i if in into is it its itself just least less like made
main mainly make makes many may might more most much must near nearly neither no nor not now of off
often on once one only onto or other others otherwise our ours out over own per perhaps rather same
second several shall she should show shown shows since so some such than that the their them then there
therefore these they third this those though three through thus to together too toward towards two
under until up upon us use used uses using very via was way we well were what when where whether which
while who whom whose why will with within without would yet you your
abstract paper papers article study studies work works result results method methods approach approaches
propose proposed present presented introduce introduced demonstrate demonstrated report reported
investigate investigated consider considered discuss discussed describe described provide provides
provided obtain obtained find found based new novel recent recently different various given general
important large small high low good better best problem problems case cases number numbers set sets
show showing allow allows allowing enable enables able also well known key significant significantly
effect effects effective efficient efficiently simple standard main paper's terms term type types
further existing previous previously current currently finally first second respectively thereby
end art achieve achieves achieved achieving outperform outperforms outperformed outperforming improve improves
improved improving yield yields yielded leverage leverages leveraged leveraging pave paves paving compare
compared comparing perform performs performed performing apply applies applying require requires required
requiring suggest suggests suggested suggesting allowing include includes including included focus focuses
focused focusing aim aims aimed aiming explore explores explored exploring address addresses addressed
addressing develop develops developed developing study studied studying analyze analyzes analyzed analyse
analysed analysing analyzing design designed designing evaluate evaluated evaluating establish established
four five six seven eight nine ten twenty hundred thousand million underlying overall typical
""".split())
# Words that say nothing on their own: never a concept alone, and never part of one.
GENERIC = set("""
model models modeling modelling data analysis framework frameworks system systems algorithm algorithms
technique techniques performance task tasks network networks learning training experiment experiments
experimental evaluation evaluate evaluated application applications property properties structure
structures process processes function functions value values information quality level levels order
state states time times form forms field fields theory approach use user users way ways part parts
""".split())
# Methods, broad task names and boilerplate every field uses: sharing one does not make two papers
# about the same thing (graded picks: a GAN paper in vision is no news to a neuroscientist who used a
# GAN; "question answering" alone linked a graph-learning reader to every QA paper of the week).
METHOD_PHRASES = """
generative adversarial network|gan|attention mechanism|neural network|deep neural network|deep learning
|convolutional neural network|recurrent neural network|lstm|rnn|cnn|gru|word embedding|variational autoencoder
|autoencoder|reinforcement learning|encoder decoder|hidden layer|monte carlo|markov chain monte carlo
|machine learning|social media|social network|online social network|real world|statistical power|model trained
|large scale|bi directional|sequence to sequence|seq2seq|natural language|data set|dataset|principal component
|principal component analysis|bayesian inference|gradient descent|stochastic gradient descent|support vector machine
|random forest|logistic regression|linear regression|transfer learning|representation learning|feature extraction
|self attention|transformer|bert|case study|experimental result|numerical simulation|open source|ground truth
|benchmark dataset|loss function|training data|test set|proof of concept
|question answering|reading comprehension|machine translation|text classification|image classification
|sentiment analysis|object detection
"""
MAX_PHRASE_WORDS = 4  # joiners count: "mixture of experts" is three
COMMON_PHRASE_DF = 0.05  # a phrase in more than 5 % of the collection ("neural network") links nothing
MIN_COMMON_COUNT = 5  # ... when at least this many documents hold it (small collections say little)
MIN_TERM_COUNT = 2  # a phrase found in one abstract only is a turn of phrase, not a term of the field
ACRONYM = re.compile(r"\b[a-z]?[A-Z]{2,6}s?\b")  # QCD, CMB, LSTM, fMRI, GANs


def fold(word: str) -> str:
    """Light plural folding, so "networks" and "network", "studies" and "study" meet."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


JOINERS = {"of"}  # "mixture of experts", "theory of mind": kept inside a phrase, never at its ends


METHODS = frozenset(" ".join(fold(w) for w in p.split()) for p in METHOD_PHRASES.replace("\n", "").split("|"))
# ... and their pieces ("adversarial network" of "generative adversarial network").
METHOD_PARTS = frozenset(" ".join(words[i:j]) for words in (m.split() for m in METHODS)
                         for i in range(len(words)) for j in range(i + 1, len(words) + 1))


def _runs(text: str) -> list[list[str]]:
    runs, current = [], []

    def close() -> None:
        while current and current[-1] in JOINERS:
            current.pop()
        if current:
            runs.append(list(current))
        current.clear()

    for token in WORD.findall(text.lower()):
        if token in JOINERS and current and current[-1] not in JOINERS:
            current.append(token)
        elif token in STOP or token in JOINERS or token.isdigit() or len(token) < 2:
            close()
        else:
            current.append(token)
    close()
    return runs


def phrases(text: str) -> dict[str, str]:
    """The text's candidate phrases: folded key → the surface form first seen."""
    out: dict[str, str] = {}
    for run in _runs(text):
        for n in range(1, MAX_PHRASE_WORDS + 1):
            for i in range(len(run) - n + 1):
                words = run[i:i + n]
                if words[0] in JOINERS or words[-1] in JOINERS:
                    continue
                if all(w in GENERIC or w in JOINERS for w in words):
                    continue  # "model", "learning", "network training": no idea in them
                key = " ".join(fold(w) for w in words)
                out.setdefault(key, " ".join(words))
    return out


@dataclass
class Vocabulary:
    """Document frequencies of phrases over a collection of texts."""

    documents: int = 0
    df: Counter = field(default_factory=Counter)

    @classmethod
    def of(cls, texts: Iterable[str]) -> "Vocabulary":
        vocab = cls()
        for text in texts:
            vocab.add(text)
        return vocab

    def add(self, text: str) -> None:
        self.documents += 1
        self.df.update(phrases(text).keys())

    def share(self, key: str) -> float:
        return self.df.get(key, 0) / self.documents if self.documents else 0.0

    def idf(self, key: str) -> float:
        return math.log((1 + self.documents) / (1 + self.df.get(key, 0))) + 1.0


@dataclass(frozen=True)
class KeyPhrases:
    """A text's phrases and acronyms, extracted once (a day's candidates meet many readers)."""

    phrases: dict[str, str]
    acronyms: frozenset[str]

    @classmethod
    def of(cls, text: str) -> "KeyPhrases":
        return cls(phrases(text), frozenset(acronyms(text)))


def acronyms(text: str) -> set[str]:
    """Folded keys of the acronyms a text uses (QCD, LSTM, fMRI): single words that name a thing."""
    return {fold(a.lower()) for a in ACRONYM.findall(text)}


def is_concept(key: str, vocab: Vocabulary | None, named: set[str] = frozenset()) -> bool:
    """A multi-word phrase that recurs in the collection without being common there, or an acronym;
    never a method or boilerplate phrase (METHODS). Ordinary single words never count: "reaction"
    or "cluster" in two abstracts is not a shared idea."""
    if key in METHOD_PARTS:
        return False
    if " " not in key:
        return key in named
    if vocab is None or not vocab.documents:
        return True
    df = vocab.df.get(key, 0)
    return df >= MIN_TERM_COUNT and (vocab.share(key) <= COMMON_PHRASE_DF or df < MIN_COMMON_COUNT)


def shared_concepts(a: str | KeyPhrases, b: str | KeyPhrases, vocab: Vocabulary | None = None,
                    limit: int = 3) -> list[str]:
    """Concepts both texts hold, most specific first (longer, then rarer); phrases that are part
    of a longer shared phrase are dropped. Pass :class:`KeyPhrases` to reuse a text's extraction."""
    a, b = (x if isinstance(x, KeyPhrases) else KeyPhrases.of(x) for x in (a, b))
    pa, pb = a.phrases, b.phrases
    named = a.acronyms & b.acronyms
    common = [k for k in pa.keys() & pb.keys() if is_concept(k, vocab, named)]
    common.sort(key=lambda k: (-k.count(" "), -(vocab.idf(k) if vocab else 0.0), k))
    chosen: list[str] = []
    for key in common:
        if any(f" {key} " in f" {c} " for c in chosen):
            continue
        chosen.append(key)
        if len(chosen) == limit:
            break
    return [pa[k] for k in chosen]
