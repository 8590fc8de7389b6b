"""What the offline model knows: a few shapes for many words (trees, rockets, cars, houses, keys,
hearts, stars), the same bytes
as before for everything it drew before, and an answer that says when it did not know the subject."""
import hashlib
import re

import numpy as np
import pytest

from generation.providers.procedural import KNOWN_SUBJECTS, draw_sprite, knows_subject
from generation.sprites import png_bytes

# sha256 of the 32 px PNG with no seed, recorded before the new shapes were added: the contact
# sheet's first twelve prompts (docs/contact_sheet.png) and two it does not know.
DRAWN_BEFORE = {
    "green slime": "6de4b4e8ebf042acf6f7f4e455df4bb896a6b74eccab5cfc46d1d5feb34e56e4",
    "red dragon": "445d7de2e1e54de73eed6936b641f3d105815c25ea191d5e42e507fba2a78672",
    "golden sword": "dfba8ebc39a00869edce5ce3691046dc2ba7220d8dee39fcd0003ee7983d7974",
    "blue potion": "00f2fbce544dbc100dd8489d58a81ede554eae2122be990c3de0d5fd2412760b",
    "skeleton warrior": "c4e9ddc5e6ba07cb6869378c6277a8f4869d48b8e4f245e4d0d04227d4144ffe",
    "purple mushroom": "bd19ce64de33b13009a47376969862daf09b9d811207328a63ffe464b7aead61",
    "treasure chest": "f226bfa645fde373e11e3fba4730fb8efdb842560aaf4d644581350a5579f3d8",
    "fire elemental": "6d7d29d054f1a3aa2605876d77b91948b550410ce00d0423c869eec6b8cc331c",
    "ice golem": "fd005bbe460b987995aeb812ee968029696750828db3bf04f9c23a07fe1c2dc5",
    "pink bunny": "74d38ddfe36ccb57a41a6f5c2aafbd3c5adfc58801f4bb6b69cfc0e2935e4fcc",
    "silver shield": "cc9d0dd5f28a18fe11d3bf8cc19ea436b94a8160a0765022511b0d7bd0ce0845",
    "orange fox": "8d5e7504819859382a3bc9970aaddd12546ad24782e84dd93b3937893dc37334",
    "a flying teapot": "4a88fa34e96e3b6649ef2105c9f400962e8ace1790d7083cd37757937434a321",
    "hello world": "80ff0ee067c73ac980b5f843102a5c8ced5e9c4a3d37aa12a38acc59ba0cf96b",
}


@pytest.mark.parametrize("prompt", DRAWN_BEFORE)
def test_it_draws_what_it_drew_before_byte_for_byte(prompt):
    assert hashlib.sha256(png_bytes(draw_sprite(prompt, size=32))).hexdigest() == DRAWN_BEFORE[prompt]


@pytest.mark.parametrize("prompt, known", [
    ("a red car", True), ("blue trucks", True), ("a tree", True), ("pine tree in snow", True), ("green bush", True),
    ("spaceship", True), ("rocket", True), ("red dragon", True), ("golden sword", True), ("wizard", True),
    ("golden key", True), ("house", True), ("red hearts", True), ("gold star", True),
    ("a flying teapot", False), ("red", False), ("hello world", False), ("starship", True),
])
def test_it_knows_which_subjects_it_draws_as_such(prompt, known):
    assert knows_subject(prompt) is known


def silhouette(prompt: str) -> np.ndarray:
    return np.asarray(draw_sprite(prompt, size=32))[..., 3] > 0


@pytest.mark.parametrize("prompt", ["a red car", "a red tree", "a red rocket", "a red pine", "a red bush",
                                    "a red house", "a red key", "a red heart", "a red star"])
def test_new_subjects_are_their_own_shapes_not_the_creature(prompt):
    creature = silhouette("a red teapot")  # unknown: the creature, in red

    assert (silhouette(prompt) != creature).mean() > 0.1


def test_one_shape_covers_its_words():
    assert {"car", "truck", "vehicle", "tree", "plant", "spaceship", "rocket"} <= KNOWN_SUBJECTS
    assert (silhouette("car") == silhouette("car")).all()
    assert (silhouette("car") != silhouette("a red teapot")).any()


def test_the_readme_lists_every_word_that_picks_a_shape():
    from pathlib import Path

    from generation.providers.procedural import SHAPE_WORDS

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    table = readme.split("### What the offline model draws", 1)[1].split("\n\n", 3)[2]
    listed = set(re.findall(r"[a-z]+", table))

    assert SHAPE_WORDS <= listed
