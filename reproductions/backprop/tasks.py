"""The two tasks of Rumelhart, Hinton & Williams 1986, generated exactly (framework-free, NumPy only).

Symmetry (Fig. 1): all 64 binary vectors of length 6; the target is 1 when the vector is a palindrome
(8 of the 64), else 0.

Family trees (Figs. 2-4): two isomorphic families of 12 people, English and Italian, and 12 relations.
An example is (person 1, relation) -> every person 2 such that "person 2 is person 1's relation". The two
trees give 104 such (person, relation) pairs with at least one answer, 112 (person 1, relation, person 2)
facts in all (the aunt/uncle/nephew/niece pairs can have two answers, and the target then has both on).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

# --- symmetry ----------------------------------------------------------------------------------------------


def symmetry_patterns(dtype: str = "float32") -> dict[str, np.ndarray]:
    """All 64 input vectors (rows in binary counting order) and their targets, shape (64, 6) and (64, 1)."""
    x = np.array(list(itertools.product((0, 1), repeat=6)), dtype=dtype)
    y = np.all(x == x[:, ::-1], axis=1, keepdims=True).astype(dtype)
    return {"x": x, "target": y}


# --- family trees ------------------------------------------------------------------------------------------

RELATIONS = ("father", "mother", "husband", "wife", "son", "daughter",
             "uncle", "aunt", "brother", "sister", "nephew", "niece")

# (name, sex, father, mother, spouse); the Italian tree is the English one, person for person (Fig. 2).
_ENGLISH = (
    ("Christopher", "m", None, None, "Penelope"), ("Penelope", "f", None, None, "Christopher"),
    ("Andrew", "m", None, None, "Christine"), ("Christine", "f", None, None, "Andrew"),
    ("Margaret", "f", None, None, "Arthur"), ("Arthur", "m", "Christopher", "Penelope", "Margaret"),
    ("Victoria", "f", "Christopher", "Penelope", "James"), ("James", "m", "Andrew", "Christine", "Victoria"),
    ("Jennifer", "f", "Andrew", "Christine", "Charles"), ("Charles", "m", None, None, "Jennifer"),
    ("Colin", "m", "James", "Victoria", None), ("Charlotte", "f", "James", "Victoria", None),
)
_ITALIAN_NAMES = dict(zip(
    [p[0] for p in _ENGLISH],
    ["Roberto", "Maria", "Pierro", "Francesca", "Gina", "Emilio",
     "Lucia", "Marco", "Angela", "Tomaso", "Alfonso", "Sophia"], strict=True))
GENERATION = {"Christopher": 1, "Penelope": 1, "Andrew": 1, "Christine": 1, "Margaret": 2, "Arthur": 2,
              "Victoria": 2, "James": 2, "Jennifer": 2, "Charles": 2, "Colin": 3, "Charlotte": 3}


@dataclass(frozen=True)
class Person:
    name: str
    sex: str
    father: str | None
    mother: str | None
    spouse: str | None
    nationality: int  # 0 English, 1 Italian
    generation: int  # 1 oldest .. 3 youngest


def _people() -> list[Person]:
    english = [Person(*p, nationality=0, generation=GENERATION[p[0]]) for p in _ENGLISH]
    italian = [Person(_ITALIAN_NAMES[n], s, *(_ITALIAN_NAMES.get(x) for x in (f, m, sp)),
                      nationality=1, generation=GENERATION[n]) for n, s, f, m, sp in _ENGLISH]
    return english + italian


PEOPLE = tuple(_people())
NAMES = tuple(p.name for p in PEOPLE)


def _relatives(person: Person, relation: str, by_name: dict[str, Person]) -> set[str]:
    def children(name):
        return {p.name for p in PEOPLE if name in (p.father, p.mother)}

    def siblings(p):
        if p.father is None:
            return set()
        return children(p.father) - {p.name}

    def of_sex(names, sex):
        return {n for n in names if by_name[n].sex == sex}

    parents = {n for n in (person.father, person.mother) if n}
    if relation in ("father", "mother"):
        return of_sex(parents, "m" if relation == "father" else "f")
    if relation in ("husband", "wife"):
        return of_sex({person.spouse} - {None}, "m" if relation == "husband" else "f")
    if relation in ("son", "daughter"):
        return of_sex(children(person.name), "m" if relation == "son" else "f")
    if relation in ("brother", "sister"):
        return of_sex(siblings(person), "m" if relation == "brother" else "f")
    if relation in ("uncle", "aunt"):  # parents' siblings and their spouses
        blood = set().union(*(siblings(by_name[p]) for p in parents)) if parents else set()
        in_law = {by_name[n].spouse for n in blood} - {None}
        return of_sex(blood | in_law, "m" if relation == "uncle" else "f")
    if relation in ("nephew", "niece"):  # children of one's own and one's spouse's siblings
        sibs = siblings(person) | (siblings(by_name[person.spouse]) if person.spouse else set())
        kids = set().union(*(children(s) for s in sibs)) if sibs else set()
        return of_sex(kids, "m" if relation == "nephew" else "f")
    raise ValueError(f"unknown relation {relation!r}")


def family_tree_examples(dtype: str = "float32") -> dict[str, np.ndarray]:
    """The 104 (person, relation) examples: one-hot person (104, 24), one-hot relation (104, 12) and the
    multi-hot target (104, 24) with every correct person 2 on."""
    by_name = {p.name: p for p in PEOPLE}
    rows = []
    for i, person in enumerate(PEOPLE):
        for r, relation in enumerate(RELATIONS):
            answers = _relatives(person, relation, by_name)
            if answers:
                rows.append((i, r, [NAMES.index(a) for a in answers]))
    n = len(rows)
    out = {"person": np.zeros((n, len(PEOPLE)), dtype), "relation": np.zeros((n, len(RELATIONS)), dtype),
           "target": np.zeros((n, len(PEOPLE)), dtype)}
    for k, (i, r, answers) in enumerate(rows):
        out["person"][k, i] = 1
        out["relation"][k, r] = 1
        out["target"][k, answers] = 1
    return out


def subset(examples: dict[str, np.ndarray], index) -> dict[str, np.ndarray]:
    return {k: np.ascontiguousarray(v[index]) for k, v in examples.items()}
