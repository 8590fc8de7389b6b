"""What the words of a prompt mean to the art: colour and trait word tables, and the palette they give."""
from __future__ import annotations

import random
from dataclasses import dataclass

from .colour import Colour, hsv

_COLOUR_WORDS: dict[str, Colour] = {
    "red": (206, 46, 46), "crimson": (168, 24, 58), "orange": (238, 128, 36), "yellow": (240, 206, 52),
    "gold": (236, 182, 40), "golden": (236, 182, 40), "green": (76, 178, 62), "lime": (150, 214, 56),
    "teal": (30, 152, 142), "cyan": (60, 204, 226), "blue": (56, 98, 218), "navy": (42, 54, 132),
    "purple": (138, 62, 196), "violet": (156, 92, 226), "magenta": (214, 54, 170), "pink": (244, 130, 186),
    "brown": (142, 90, 50), "black": (54, 48, 64), "white": (238, 238, 244), "grey": (142, 144, 154),
    "gray": (142, 144, 154), "silver": (196, 202, 216), "bronze": (192, 120, 58), "copper": (196, 110, 70),
}
# Things that imply a colour, used when the prompt names no colour outright.
_THEME_COLOURS: dict[str, Colour] = {
    "fire": (240, 100, 30), "flame": (240, 100, 30), "lava": (230, 70, 30), "ice": (150, 216, 240),
    "frost": (150, 216, 240), "snow": (226, 236, 246), "skeleton": (230, 220, 192), "bone": (230, 220, 192),
    "shadow": (76, 56, 104), "poison": (140, 210, 60), "toxic": (140, 210, 60), "water": (50, 128, 222),
    "ocean": (40, 110, 200), "forest": (62, 142, 62), "leaf": (90, 170, 60), "stone": (132, 128, 122),
    "rock": (132, 128, 122), "wood": (150, 100, 56), "wooden": (150, 100, 56), "treasure": (150, 96, 52),
    "blood": (150, 20, 34), "sky": (120, 180, 240), "night": (48, 52, 110), "sun": (250, 200, 60),
    "iron": (150, 156, 170), "steel": (160, 168, 184), "metal": (150, 156, 170), "magic": (150, 96, 232),
    "arcane": (120, 90, 230), "holy": (250, 230, 150), "dark": (76, 56, 104), "ruby": (204, 30, 64),
    "emerald": (40, 180, 100), "sapphire": (40, 84, 206), "amethyst": (150, 80, 206), "diamond": (200, 236, 250),
}
# What things are made of when the prompt names no colour, and the inks for eyes and glints.
GOLD, SILVER, STEEL = _COLOUR_WORDS["gold"], _COLOUR_WORDS["silver"], _THEME_COLOURS["steel"]
WOOD, BONE, CREAM = (128, 84, 48), (232, 222, 196), (255, 246, 226)
INK_DARK, GLINT = (34, 28, 44), (250, 250, 250)

TRAITS: dict[str, str] = {
    "dragon": "horns wings muzzle", "wyvern": "wings crest muzzle", "demon": "horns wings glow",
    "devil": "horns glow", "imp": "horns wings", "bat": "wings ears", "bird": "wings", "owl": "wings ears",
    "angel": "humanoid wings", "fairy": "humanoid wings", "fox": "ears muzzle", "cat": "ears", "wolf": "ears muzzle",
    "dog": "ears muzzle", "tiger": "round_ears", "lion": "round_ears", "bear": "round_ears", "mouse": "round_ears",
    "panda": "round_ears", "bunny": "long_ears", "rabbit": "long_ears", "hare": "long_ears",
    "skeleton": "humanoid bony glow", "zombie": "humanoid", "warrior": "humanoid armored",
    "knight": "humanoid armored", "soldier": "humanoid armored", "golem": "humanoid bulky glow",
    "robot": "humanoid bulky glow antenna", "orc": "humanoid bulky", "troll": "humanoid bulky",
    "goblin": "humanoid ears", "wizard": "humanoid hat", "mage": "humanoid hat", "witch": "humanoid hat",
    "elemental": "floating flame glow", "ghost": "floating", "spirit": "floating glow",
    "wisp": "floating glow", "phantom": "floating glow",
}
# Features a creature may get by chance when its words suggest none.
CHANCE_TRAITS = ("ears", "round_ears", "horns", "antenna", "wings", "crest")


@dataclass(frozen=True)
class Palette:
    main: Colour
    accent: Colour | None  # a second colour word, if the prompt has one
    named: bool  # main comes from the prompt's words, not from its hash

    def main_or(self, default: Colour) -> Colour:
        """The prompt's colour, else what this kind of thing usually is (a chest is wood)."""
        return self.main if self.named else default


def palette_for(words: list[str], rng: random.Random) -> Palette:
    named = [_COLOUR_WORDS[w] for w in words if w in _COLOUR_WORDS]
    themed = [_THEME_COLOURS[w] for w in words if w in _THEME_COLOURS]
    picks = list(dict.fromkeys(named + themed))
    if not picks:
        return Palette(hsv(rng.random(), rng.uniform(0.45, 0.75), rng.uniform(0.65, 0.88)), None, named=False)
    return Palette(picks[0], picks[1] if len(picks) > 1 else None, named=True)
