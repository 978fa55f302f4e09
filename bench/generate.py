"""A seeded generator of synthetic Jekyll sites of film reviews written as letters.

    python bench/generate.py OUT_DIR --reviews 20000 --seed 1 [--manifest planted.json]

or, from Python, `generate_site(Path(out), reviews=20000, seed=1)`. The site has the shape of
`examples/site`: the same `_config.yml` (permalink `/content/:year/:i_month/:i_day/:title.html`),
layouts, the `contentfor` plugin, `_data/authors.yml`, one tiny JPEG per review in `images/`,
a few drafts and a few unpublished reviews. Each review (~3 KB) has front matter, a salutation,
paragraphs of film-review prose built from word lists, reference links to other generated
reviews by URL (some with a `#fragment`; some inline through `{% post_url %}`), an IMDb link and a
signature block.

Tags come from a vocabulary of ~2,000 names drawn with a Zipf-Mandelbrot distribution: a few
tags are used by thousands of reviews, a long tail by a handful. The vocabulary has no two names
within a small edit distance of each other (names differing only in digits, such as `Oscars 2014`
and `Oscars 2015`, are allowed), so every tag finding comes from a planted mistake. Planted at low
rates, and listed in `GeneratedSite.mistakes` with the rule each should trigger:

- tag variants (TX001): another case (`Letters`), hyphens for spaces or back (`film noir`),
  accents dropped (`Amelie`);
- near-miss typos (TX002): a tag used nowhere else, one edit away from a tag in use;
- about 0.5% of reviews with a dead internal link (LK001), an undefined reference (LK003), an
  unknown author (FM009) or no signature block (LT003).

The same seed always gives the same files, byte for byte.
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import json
import os
import re
import shutil
import string
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from random import Random
from typing import Any

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_SITE = REPO / "examples" / "site"
MARKER = ".letterhead-bench-site"  # a dotfile: Jekyll and letterhead ignore it
PERMALINK = "/content/:year/:i_month/:i_day/:title.html"
FIRST_DAY = dt.date(2010, 1, 1)
LAST_DAY = dt.date(2024, 12, 31)

VOCABULARY_SIZE = 2000
ZIPF_EXPONENT = 1.5
ZIPF_OFFSET = 6.0  # Zipf-Mandelbrot: p(rank) ~ 1 / (rank + offset) ** exponent

# Rates per review.
RATE_UNPUBLISHED = 0.002
RATE_DRAFTS = 0.001
RATE_HEADING = 0.06
RATE_CASE_VARIANT = 0.004
RATE_SPACING_VARIANT = 0.0015
RATE_ACCENT_VARIANT = 0.0015
RATE_TYPO = 0.0015
RATE_EACH_MISTAKE = 0.00125  # four kinds: 0.5% of reviews in all


# -- results ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlantedMistake:
    path: str  # relative to the site root, `/` separators
    line: int  # 1-based line of the mistake (the file's last line for a missing block)
    code: str  # the rule that should report it (SPEC section 4)
    name: str
    detail: str  # what was planted
    expected: str | None = None  # the right value, when there is one (a fix would insert it)


@dataclass(slots=True)
class GeneratedSite:
    root: Path
    seed: int
    reviews: int  # review files written: posts and drafts
    posts: int  # files in _posts/ (published or not)
    drafts: int
    unpublished: int
    images: int
    authors: int
    links: int  # internal links to other reviews (reference definitions and inline)
    vocabulary: int  # canonical tags in the vocabulary
    tag_counts: dict[str, int] = field(default_factory=dict)  # spelling -> reviews using it
    urls: dict[str, str] = field(default_factory=dict)  # post path -> URL (published posts)
    mistakes: list[PlantedMistake] = field(default_factory=list)
    bytes: int = 0
    seconds: float = 0.0

    def summary(self) -> dict[str, object]:
        by_code = Counter(m.code for m in self.mistakes)
        top = sorted(self.tag_counts.items(), key=lambda item: (-item[1], item[0]))[:5]
        return {
            "root": str(self.root),
            "seed": self.seed,
            "reviews": self.reviews,
            "posts": self.posts,
            "drafts": self.drafts,
            "unpublished": self.unpublished,
            "images": self.images,
            "links": self.links,
            "vocabulary": self.vocabulary,
            "tag_spellings": len(self.tag_counts),
            "tags_used_once": sum(1 for c in self.tag_counts.values() if c == 1),
            "top_tags": top,
            "mistakes": dict(sorted(by_code.items())),
            "megabytes": round(self.bytes / 1e6, 1),
            "seconds": round(self.seconds, 2),
        }


# -- word lists --------------------------------------------------------------------------------


def _words(text: str) -> tuple[str, ...]:
    """A word list written compactly: `|`-separated, or space-separated when there is no `|`."""
    return tuple(text.split("|") if "|" in text else text.split())


FIRST_NAMES = _words(
    "Anna Christopher Tomasz Nadia Jonah Maria Luis Ingrid Kenji Amara Owen Sofia Mateo Leila "
    "Pavel Chiara Dmitri Hana Farid Greta Ruth Samuel Ines Kofi Mei Aurelio Birgit Cyril Dalia "
    "Emeka Fatima Gideon Helena Ivo Jasmin Kasia Lorenzo Mirela Niall Oksana Priya Quentin Rosa "
    "Stellan Tilda Umberto Vera Wendell Ximena Yusuf Zora Agnes Bruno Celeste Desmond Elif Fintan "
    "Gudrun Hiro Isolde Jerome Karim Lucia Magnus Noor Odile Piotr Rania Sergio Thea Ulla Vikram "
    "Wanda Yara Zeno Beatriz Caspar Delphine Eamon Flora Gaspard Harriet Ignacio Juno Kwame Lotte"
)
ACCENTED_FIRST_NAMES = _words(
    "José Zoë Łukasz Søren André Inés Renée Chloé François Björn Agnès Małgorzata Raphaël "
    "Jürgen Ángela Noémie Tomáš Dagný Héctor Mírza Joël Lucía Océane Jiří Gaëlle Ramón Åsa"
)
LAST_NAMES = _words(
    "Rees Whitfield Kowal Benali Mercer Ashdown Brennan Castellano Draper Ekwueme Fairlie "
    "Grunwald Halloran Ibsen Jovanovic Kaminski Lindqvist Moreau Nakamura Okafor Pellegrini "
    "Quartermaine Rasmussen Sandoval Takahashi Underwood Valdivia Wainwright Yamada Zielinski "
    "Abernathy Bellweather Carrow Delacroix Esterhazy Fontaine Galloway Hargreave Ishikawa "
    "Jablonski Kavanagh Lombardi Montague Nieminen Oyelaran Pemberton Radcliffe Stavros Tremaine "
    "Umarov Vasquez Whitlock Yoshida Zamora Achterberg Blackwood Cortazar Dunmore Elsworth "
    "Fairbanks Gorecki Holmqvist Iwasaki Juarez Kessler Lachance Mortensen Novak Ostrowski "
    "Petrakis Quintero Rockwell Szabo Thornbury Vukovic Westergaard Yilmaz Zaragoza Aldana "
    "Bramwell Cheung Dorsey Eklund Fitzroy Galanis Hendrickx Ivanova Jessop Kirkwood Larkspur "
    "Mbeki Nightingale Orsini Prendergast Rutherford Sokolova Tamura Ventimiglia Wexford Ziegler"
)
ACCENTED_LAST_NAMES = _words(
    "García Núñez Müller Håkansson Dvořák Ibáñez Kovács Gérard Sørensen Lefèvre Jiménez Nováková "
    "Öztürk Bérénice Wójcik Ramírez Pérez Çelik Fernández Ångström Şahin Thérien Martínez Dupré"
)
COUNTRIES = _words(
    "france|usa|united kingdom|italy|germany|japan|south korea|iran|india|china|hong kong|taiwan|"
    "spain|portugal|poland|hungary|romania|russia|ukraine|georgia|turkey|greece|israel|palestine|"
    "lebanon|egypt|morocco|algeria|tunisia|senegal|mali|mauritania|nigeria|ghana|kenya|ethiopia|"
    "south africa|brazil|argentina|chile|mexico|colombia|peru|cuba|canada|australia|new zealand|"
    "indonesia|philippines|thailand|vietnam|cambodia|malaysia|singapore|bangladesh|pakistan|"
    "afghanistan|kazakhstan|mongolia|sweden|norway|denmark|finland|iceland|ireland|belgium|"
    "netherlands|austria|switzerland|czech republic|slovakia|serbia|croatia|bosnia|albania|"
    "estonia|latvia|lithuania|bolivia|paraguay|uruguay|venezuela|jamaica|haiti|saudi arabia|"
    "jordan|syria|iraq|sri lanka|nepal|bhutan|burkina faso|chad|sudan|rwanda"
)
THEMES = _words(
    "documentary|drama|comedy|horror|animation|science fiction|western|musical|thriller|romance|"
    "war|memory|grief|marriage|childhood|adolescence|ageing|family|friendship|faith|religion|"
    "genocide|colonialism|migration|exile|surveillance|corruption|journalism|poverty|labour|"
    "class|revenge|justice|prison|slavery|civil rights|feminism|motherhood|fatherhood|"
    "loneliness|obsession|addiction|madness|death|mourning|love|desire|betrayal|jealousy|"
    "ambition|fame|music|jazz|dance|painting|photography|literature|theatre|television|"
    "cinema about cinema|black and white|silent film|long takes|handheld camera|found footage|"
    "archive footage|essay film|first feature|debut|remake|sequel|adaptation|biopic|true story|"
    "period piece|costume drama|road movie|heist|chase|courtroom|espionage|cold war|"
    "second world war|holocaust|vietnam war|apartheid|revolution|dictatorship|protest|"
    "climate|wilderness|the sea|islands|mountains|deserts|rivers|winter|summer|night|cities|"
    "small towns|suburbia|farming|fishing|trains|cars|aviation|space|robots|"
    "artificial intelligence|"
    "ghosts|vampires|witches|monsters|zombies|fairy tales|myth|folklore|puppetry|clay animation|"
    "stop motion|hand-drawn|coming-of-age|film-noir|neo-noir|slow cinema|avant-garde|"
    "mockumentary|slapstick|screwball|satire|melodrama|tragicomedy|chamber piece|"
    "ensemble cast|two-hander|voice-over|non-professional actors|child actors|letters|"
    "correspondence|diaries|translation|language|deafness|blindness|disability|medicine|"
    "hospitals|schools|teachers|students|sport|football|boxing|chess|cooking|food|wine|"
    "fashion|architecture|gardens|animals|dogs|horses|birds|insects|weather|floods|earthquakes|"
    "pandemics|borders|refugees|diaspora|indigenous cinema|queer cinema|women directors|"
    "restorations|retrospectives|box office|awards season|streaming|on video|double bills|"
    "midnight movies|cult films|guilty pleasures|overlooked|rediscovered|lost films|"
    "short films|anthology|trilogy|epic|miniature|minimalism|maximalism|"
    "improvisation|one location|real time|flashbacks|unreliable narrator|twist ending|"
    "open ending|ambiguity|silence|humour|tenderness|cruelty|violence|nonviolence|hope|despair|"
    "nostalgia|utopia|dystopia|apocalypse|post-apocalyptic|time travel|dreams|"
    "magical realism|surrealism|expressionism|realism|naturalism|neorealism|new wave|"
    "dogme 95|mumblecore|giallo|wuxia|kaiju|spaghetti western|kitchen sink|heritage cinema|"
    "bollywood|nollywood|anime|j-horror|k-drama|telenovela"
)
AWARDS = ("Oscars", "Cannes", "Berlinale", "Venice", "Sundance", "TIFF", "BAFTA")
TOP_TAGS = (
    "letters",
    "documentary",
    "drama",
    "usa",
    "france",
    "united kingdom",
    "memory",
    "family",
    "comedy",
    "love",
    "first feature",
    "on video",
    "italy",
    "japan",
    "marriage",
    "music",
    "childhood",
    "war",
)
# YAML 1.1 reads these as booleans or null: never use one as a bare tag.
YAML_SPECIAL = {"yes", "no", "on", "off", "true", "false", "null", "y", "n", "~"}

ROLES = _words(
    "Director|Writer and director|Cinematographer|Editor|Composer|Production designer|"
    "Costume designer|Screenwriter|Producer|Sound designer|Lead actress|Lead actor|Narrator|"
    "Choreographer|Casting director|Animator|Sculptor|Stunt coordinator|Make-up artist|"
    "Projectionist|Interpreter|Subject|Supporting actress|Supporting actor|Documentarian"
)
TITLE_ADJECTIVES = _words(
    "Silent Last Hidden Golden Broken Distant Burning Quiet Crooked Borrowed Drowned Northern "
    "Empty Second Invisible Painted Patient Restless Scattered Sleeping Tender Wandering Winter "
    "Summer Long Little Bright Faded Frozen Hollow Lost Narrow Paper Salt Secret Slow Stolen "
    "Velvet Wild Yellow Crimson Pale Iron Glass Early Late Open Sudden Unfinished Untold"
)
TITLE_NOUNS = _words(
    "Harbour Orchard Picture River Letter Country House Season Mirror Garden Border Station "
    "Island Shore Horizon Kingdom Lantern Meadow Ceremony Confession Inheritance Journey "
    "Lullaby Machine Monument Museum Procession Reunion Rehearsal Sanctuary Signal Tide Valley "
    "Village Voyage Witness Archive Ballroom Bridge Cartographer Cinema Daughter Echo Factory "
    "Ferry Festival Glacier Hotel Ledger Lighthouse Marriage Nocturne Passage Quarry Radio "
    "Republic Road Sister Stranger Summer Tenant Theatre Tower Widow Window Yard Zoo"
)
PLACES = _words(
    "Lisbon|Tbilisi|Osaka|Marseille|Lagos|Valparaíso|Kraków|Detroit|Palermo|Bergen|Hanoi|"
    "Montevideo|Tangier|Reykjavík|Manchester|Busan|Dakar|Trieste|Kolkata|Halifax|Oaxaca|Tallinn"
)

SCENES = _words(
    "the opening shot|the long dinner scene|the final reel|the argument in the kitchen|"
    "the car journey at dawn|the wedding sequence|the courtroom scene|the night swim|"
    "the scene on the ferry|the funeral|the dance in the empty hall|the phone call|"
    "the first meeting|the last conversation|the walk along the beach|the birthday party|"
    "the interrogation|the scene in the rain|the hospital corridor|the reunion at the station|"
    "the quarrel on the stairs|the closing credits|the silent breakfast|"
    "the chase through the market|"
    "the slow pan across the valley|the confession in the car|the rehearsal scene|the flashback"
)
WATCHED_AT = _words(
    "a half-empty multiplex on a wet Tuesday|a festival screening full of people in lanyards|"
    "a small cinema that still smells of its old carpets|my sofa, with the sound too low|"
    "a Sunday matinee surrounded by pensioners|the front row, which was a mistake|"
    "a press screening at nine in the morning|a packed late show|a borrowed disc|"
    "an outdoor screening with a lot of wind"
)
FEELINGS = _words(
    "held my breath|laughed out loud|wanted to applaud|felt my chest tighten|forgot to eat my "
    "popcorn|looked away, and then looked back|wanted to shout at the screen|went very quiet|"
    "heard the whole room go still|found myself leaning forward"
)
ELEMENTS = _words(
    "the score|the editing|the sound design|the camera|the light|the costumes|the silence|"
    "the framing|the production design|the screenplay|the casting|the location|the colour|"
    "the pacing|the dialogue"
)
DOES = _words(
    "does the rest|carries more weight than the dialogue|says what nobody on screen can say|"
    "never lets us relax|keeps its distance, which is a kindness|quietly holds it all together|"
    "does half of the acting|points us where to look without ever pushing"
)
SUBJECTS = _words(
    "grief|ambition|a long marriage|a small town|a family secret|the sea|memory|an old debt|"
    "a war nobody names|a friendship|a house|a missing brother|a country that has moved on|"
    "a son who will not come home|the people who clean up afterwards|what we owe the dead|"
    "work|a first love|a last chance|an inheritance nobody wanted|the cost of telling the truth"
)
GOOD = _words(
    "patient|generous|precise|unhurried|fearless|tender|wry|luminous|restless|austere|"
    "unsentimental|playful|exact|watchful|careful|warm|sly|brave|quiet|ferocious"
)
BAD = _words(
    "overlong|too tidy|muddled|a touch sentimental|oddly rushed|over-explained|"
    "weighed down by its score|shapeless|a little pleased with itself|too neat"
)
MOMENTS = _words(
    "halfway through|in the last twenty minutes|early on|near the end|in the middle of a joke|"
    "in one unbroken take|just before the cut|in the final scene|without any warning|"
    "in the middle of a sentence"
)
COMPARISONS = _words(
    "films with ten times the budget|most of this year's prestige releases|"
    "far more famous actors|a dozen earnest television dramas|better-known directors|"
    "every other film in the festival programme"
)
CLOSINGS = _words(
    "Yours, with the lights still down|With thanks for the evening|Still thinking about it|"
    "Gratefully|With admiration|Yours, from the back row|Until the next one|With my ticket stub|"
    "Respectfully, and with reservations|With love, and one complaint|Yours in the dark|"
    "From a grateful stranger|With the credits still rolling|Sincerely|With a full heart|"
    "Yours, somewhat shaken|With respect|Looking forward to the next one|Warmly|In haste"
)
HEADINGS = _words(
    "The last reel|A note on the ending|The long take|What the camera knows|The second viewing|"
    "On the score|The scene in the rain|A word about the title|The empty chair|Afterwards"
)

SENTENCES = (
    "{Scene} is the heart of the film, and you play it with a {good} stillness that I have not "
    "stopped thinking about.",
    "I saw it in {watched}, and I {feeling} when {scene} finally arrived.",
    "{Element} {does}, which leaves you free to do very little, and you do very little "
    "beautifully.",
    "It is a film about {subject}, though it takes its time admitting it.",
    "Not everything works: the middle stretch is {bad}, and {scene} goes on a beat too long.",
    "What stays with me is how {good} you are in the small moments: a glance held, a line "
    "thrown away, a door closed a little too softly.",
    "There is a moment {moment} when your face changes completely, and the whole film changes "
    "with it.",
    "I have seen {comparison} try for this kind of honesty and come nowhere near it.",
    "The film trusts silence more than most, and {element} makes that trust pay off.",
    "By the end I cared about {subject} far more than I expected to.",
    "You never ask for our sympathy, which is exactly why you get it.",
    "I went in expecting something {bad} and came out having to sit on a bench for a while.",
    "{Element} is {good} without ever showing off, and I noticed it only on the way home.",
    "Somewhere {moment} I stopped taking notes and simply watched.",
    "The story is simple enough to write on a postcard, and the film knows that simplicity is "
    "the hardest thing to film.",
    "People around me {feeling} during {scene}, and I think I did too.",
    "It is rare to see {subject} treated with this much patience on screen.",
    "If I have a complaint it is that {element} is sometimes {bad}, but it is a small one.",
    "You make {subject} feel like something that happened to real people, which it did.",
    "I keep returning to {scene}, and to the way you hold yourself in it.",
    "The director gives you room, and you fill it with something {good} and hard to name.",
    "On a second viewing {scene} played very differently, and better.",
    "Nothing in it is underlined, and I was grateful for every scene that trusted me.",
    "I could describe the plot, but the plot is the least of it.",
    "You arrive {moment}, and from then on the film belongs to you.",
    "I am told the shoot was difficult; none of that difficulty reaches the screen.",
    "The supporting cast are {good} too, but they seem to know whose film it is.",
    "{Element} reminded me how much a film can do without a single close-up.",
    "It has the courage to be {good} when everything in the genre asks it to be loud.",
    "I would happily have watched another hour of {scene}.",
    "When the lights came up, nobody in the row in front of me moved.",
    "There are films about {subject} that explain everything, and then there is this one.",
    "A friend called it {bad}; I think she was watching a different film.",
    "I laughed more than I expected to, and always at the right moments.",
    "The ending does not resolve anything, and I would not want it to.",
    "You find something {good} in a character the script could easily have made a villain.",
    "For once the trailer gave nothing away.",
    "The last shot lingers just long enough to let us leave on our own terms.",
    "It is not a perfect film, but it is an honest one, which is rarer.",
    "I left thinking about {subject}, and about my own family, in that order.",
)
LINK_SENTENCES = (
    "It made me think of [{title}][{label}], which asked some of the same questions about "
    "{subject}.",
    "We wrote about [{title}][{label}] a while ago, and the two films would make a fine double "
    "bill.",
    "If you liked {subject} here, [{title}][{label}] comes at it from the other side.",
    "The comparison with [{title}][{label}] is unfair to both films, and I made it anyway.",
    "Readers who wrote to us about [{title}][{label}] will find a lot to argue with here.",
    "I watched it the same week as [{title}][{label}], and they have been talking to each other "
    "in my head ever since.",
)
IMDB_SENTENCES = (
    "The [full credits][{label}] are worth reading to the end.",
    "I looked up [the cast list][{label}] afterwards to find out who everyone was.",
    "Do look at [the film's page][{label}] for the names of the crew; they deserve to be known.",
)
EXCERPTS = (
    "A letter about patience, and about what is left unsaid.",
    "Written the morning after, with the ending still going round my head.",
    "A small film about a large grief.",
    "Seen at a festival; it opens in cinemas next month.",
    "An old favourite, newly restored.",
)


# -- helpers -------------------------------------------------------------------------------------


def fold(text: str) -> str:
    """A tag's folded form, as letterhead folds it: case, accents, spacing and hyphens ignored."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(stripped.casefold().replace("-", " ").replace("_", " ").split())


def strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return unicodedata.normalize("NFC", plain.replace("ł", "l").replace("Ł", "L"))


def slugify(text: str) -> str:
    """`The Act of Killing` → `the-act-of-killing`: ASCII letters and digits joined by hyphens."""
    plain = strip_accents(text).lower().replace("'", "")
    return _NOT_SLUG.sub("-", plain).strip("-")


def url_of(day: dt.date, slug: str) -> str:
    return f"/content/{day.year}/{day.month}/{day.day}/{slug}.html"


def _deletions(text: str, depth: int) -> set[str]:
    result = {text}
    frontier = {text}
    for _ in range(depth):
        frontier = {word[:i] + word[i + 1 :] for word in frontier for i in range(len(word))}
        result |= frontier
    return result


def tiny_jpeg(gray: int = 128) -> bytes:
    """A valid 1x1 baseline greyscale JPEG of the given grey level (0-255), about 155 bytes.

    One 8x8 block with only a DC coefficient; quantiser 8 and one-symbol Huffman tables.
    """
    diff = max(-128, min(127, gray - 128))  # DC = 8 * (gray - 128), quantised by 8
    size = abs(diff).bit_length()

    def segment(marker: int, payload: bytes) -> bytes:
        return bytes((0xFF, marker)) + (len(payload) + 2).to_bytes(2, "big") + payload

    counts = bytes([1] + [0] * 15)
    out = b"\xff\xd8"
    out += segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    out += segment(0xDB, b"\x00" + bytes([8] * 64))
    out += segment(0xC0, b"\x08\x00\x01\x00\x01\x01\x01\x11\x00")
    out += segment(0xC4, b"\x00" + counts + bytes([size]) + b"\x10" + counts + b"\x00")
    out += segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
    bits = "0"  # the DC code (its only symbol: the size category)
    if size:
        bits += format(diff if diff > 0 else diff + (1 << size) - 1, f"0{size}b")
    bits += "0"  # the AC code: end of block
    bits += "1" * (-len(bits) % 8)
    data = bytearray()
    for i in range(0, len(bits), 8):
        byte = int(bits[i : i + 8], 2)
        data.append(byte)
        if byte == 0xFF:
            data.append(0)
    return out + bytes(data) + b"\xff\xd9"


class _Templates:
    """Sentence templates parsed once into literal and slot parts, filled from word lists."""

    def __init__(self, templates: tuple[str, ...]) -> None:
        self.parsed = [
            [(literal, name) for literal, name, _, _ in string.Formatter().parse(text)]
            for text in templates
        ]


_SLOTS: dict[str, tuple[str, ...] | list[str]] = {
    "scene": SCENES,
    "watched": WATCHED_AT,
    "feeling": FEELINGS,
    "element": ELEMENTS,
    "does": DOES,
    "subject": SUBJECTS,
    "good": GOOD,
    "bad": BAD,
    "moment": MOMENTS,
    "comparison": COMPARISONS,
}
_PLAIN = _Templates(SENTENCES)
_LINKED = _Templates(LINK_SENTENCES)
_IMDB = _Templates(IMDB_SENTENCES)


def _fill(rng: Random, parts: list[tuple[str, str | None]], given: dict[str, str]) -> str:
    out = []
    for literal, name in parts:
        out.append(literal)
        if name is None:
            continue
        if name in given:
            out.append(given[name])
            continue
        words = _SLOTS[name.lower()]
        word = words[int(rng.random() * len(words))]
        out.append(word[0].upper() + word[1:] if name[0].isupper() else word)
    return "".join(out)


# -- the plan: every review decided before anything is written ------------------------------------


@dataclass(slots=True)
class Review:
    index: int
    day: dt.date
    slug: str
    title: str
    author: str
    addressee: str
    position: str
    imdb: str
    stars: float
    category: str
    tags: list[str]
    draft: bool = False
    published: bool = True
    heading: tuple[str, str] | None = None  # (text, id)
    targets: list[int] = field(default_factory=list)  # indexes of linked reviews
    block_tags: bool = False
    explicit_layout: bool = False
    excerpt: str | None = None
    comments: bool = True
    # planted mistakes
    bad_author: str | None = None
    no_signature: bool = False
    undefined_reference: bool = False
    dead_link: int | None = None  # position in `targets` whose URL gets a wrong day

    @property
    def path(self) -> str:
        if self.draft:
            return f"_drafts/{self.slug}.md"
        return f"_posts/{self.day.isoformat()}-{self.slug}.md"

    @property
    def url(self) -> str:
        return url_of(self.day, self.slug)

    @property
    def post_id(self) -> str:
        return f"{self.day.isoformat()}-{self.slug}"

    @property
    def image(self) -> str:
        return f"{self.slug}.jpg"


class _Planner:
    def __init__(self, reviews: int, seed: int) -> None:
        self.rng = Random(f"letterhead-bench:{seed}")
        self.count = reviews
        self.authors = self._authors()
        self.owners: dict[str, str] = {}
        self.vocabulary = self._vocabulary()
        weights = [
            1.0 / (rank + ZIPF_OFFSET) ** ZIPF_EXPONENT for rank in range(len(self.vocabulary))
        ]
        total = 0.0
        self.cumulative = []
        for weight in weights:
            total += weight
            self.cumulative.append(total)
        self.mistakes: list[PlantedMistake] = []

    # vocabulary and people

    def _person(self, accented: float = 0.15) -> str:
        rng = self.rng
        first = rng.choice(ACCENTED_FIRST_NAMES if rng.random() < accented else FIRST_NAMES)
        last = rng.choice(ACCENTED_LAST_NAMES if rng.random() < accented else LAST_NAMES)
        return f"{first} {last}"

    def _authors(self) -> dict[str, str]:
        authors: dict[str, str] = {}
        while len(authors) < 24:
            first = self.rng.choice(FIRST_NAMES)
            last = self.rng.choice(LAST_NAMES)
            handle = (first + last[0]).lower()
            if handle not in authors:
                authors[handle] = f"{first} {last}"
        return authors

    def _vocabulary(self) -> list[str]:
        """~2,000 tags, most frequent first; no two within edit distance 2 of each other."""
        rng = self.rng
        candidates: list[str] = [t for t in TOP_TAGS]
        rest: list[str] = [t for t in THEMES + COUNTRIES if t not in TOP_TAGS]
        rest += [f"{award} {year}" for award in AWARDS for year in range(2008, 2026)]
        rest += [f"{decade}s" for decade in range(1920, 2030, 10)]
        rng.shuffle(rest)
        candidates += rest
        while len(candidates) < VOCABULARY_SIZE * 2:
            candidates.append(self._person(accented=0.25).lower())
        accepted: list[str] = []
        folds: set[str] = set()
        stems: set[str] = set()  # digit-free folded forms already accepted
        owners = self.owners  # deletion variant -> the accepted stem it came from
        for tag in candidates:
            if len(accepted) >= VOCABULARY_SIZE:
                break
            folded = fold(tag)
            if folded in folds or tag in YAML_SPECIAL:
                continue
            stem = folded.translate(_NO_DIGITS).strip()
            if stem in stems:  # `Oscars 2014` after `Oscars 2013`: differs only in digits
                accepted.append(tag)
                folds.add(folded)
                continue
            near = _deletions(stem, 2)
            if any(variant in owners for variant in near):
                continue
            accepted.append(tag)
            folds.add(folded)
            stems.add(stem)
            owners.update(dict.fromkeys(near, stem))
        # Mix the award years and names into the middle and tail, keep the head in place.
        head, tail = accepted[: len(TOP_TAGS)], accepted[len(TOP_TAGS) :]
        return head + tail

    def draw_tags(self) -> list[str]:
        rng = self.rng
        wanted = 3 + int(rng.random() * 6)  # 3-8 tags
        chosen: list[str] = []
        seen: set[str] = set()
        total = self.cumulative[-1]
        attempts = 0
        while len(chosen) < wanted and attempts < 40:
            attempts += 1
            rank = bisect.bisect_left(self.cumulative, rng.random() * total)
            tag = self.vocabulary[min(rank, len(self.vocabulary) - 1)]
            if tag not in seen:
                seen.add(tag)
                chosen.append(tag)
        return chosen

    # the reviews

    def plan(self) -> list[Review]:
        rng = self.rng
        span = (LAST_DAY - FIRST_DAY).days
        slugs: set[str] = set()
        handles = list(self.authors)
        drafts = max(1, round(self.count * RATE_DRAFTS)) if self.count >= 20 else 0
        reviews: list[Review] = []
        for index in range(self.count):
            while True:
                title = self._title()
                slug = slugify(title)
                if slug not in slugs:
                    break
            slugs.add(slug)
            stars = round(rng.random() * 10) / 2
            review = Review(
                index=index,
                day=FIRST_DAY + dt.timedelta(days=int(rng.random() * (span + 1))),
                slug=slug,
                title=title,
                author=handles[int(rng.random() * len(handles))],
                addressee=self._person(),
                position=rng.choice(ROLES),
                imdb=f"tt{rng.randrange(10**6, 10**7):07d}",
                stars=stars,
                category=rng.choice(
                    ("in-cinemas", "in-cinemas", "on-video", "festival", "streaming")
                ),
                tags=self.draw_tags(),
                draft=index >= self.count - drafts,
                block_tags=rng.random() < 0.1,
                explicit_layout=rng.random() < 0.05,
                excerpt=rng.choice(EXCERPTS) if rng.random() < 0.15 else None,
                comments=rng.random() < 0.95,
            )
            if rng.random() < RATE_HEADING:
                text = rng.choice(HEADINGS)
                review.heading = (text, slugify(text))
            reviews.append(review)
        posts = [r for r in reviews if not r.draft]
        for review in posts:
            if rng.random() < RATE_UNPUBLISHED:
                review.published = False
        linkable = [r.index for r in posts if r.published]
        for review in reviews:
            if len(linkable) < 2:
                break
            wanted = 2 + int(rng.random() * 5)  # 2-6
            targets: list[int] = []
            for _ in range(wanted * 3):
                if len(targets) >= wanted:
                    break
                target = linkable[int(rng.random() * len(linkable))]
                if target != review.index and target not in targets:
                    targets.append(target)
            review.targets = targets
        self._plant(reviews)
        return reviews

    def _title(self) -> str:
        rng = self.rng
        pattern = rng.random()
        adjective = rng.choice(TITLE_ADJECTIVES)
        noun = rng.choice(TITLE_NOUNS)
        other = rng.choice(TITLE_NOUNS)
        if pattern < 0.3:
            return f"The {adjective} {noun}"
        if pattern < 0.45:
            return f"{adjective} {noun}"
        if pattern < 0.6:
            return f"The {noun} of {rng.choice(PLACES)}"
        if pattern < 0.72:
            return f"{rng.choice(FIRST_NAMES)}'s {noun}"
        if pattern < 0.85:
            return f"A {noun} for the {other}"
        return f"{noun} and {other}, {rng.choice(PLACES)}"

    # planted variants and mistakes

    def _plant(self, reviews: list[Review]) -> None:
        rng = self.rng
        counts: Counter[str] = Counter(tag for review in reviews for tag in review.tags)
        used_folds = {fold(tag) for tag in counts}
        picker = _Picker(rng, reviews)
        quota = (lambda rate: max(1, round(len(reviews) * rate))) if len(reviews) >= 20 else None

        variants = (
            ("case", RATE_CASE_VARIANT, _case_variant),
            ("spacing", RATE_SPACING_VARIANT, _spacing_variant),
            ("accent", RATE_ACCENT_VARIANT, _accent_variant),
        )
        for kind, rate, make in variants:
            for _ in range(quota(rate) if quota else 0):

                def variant_of(review: Review, make: Callable[[str], str | None] = make):
                    for position, tag in enumerate(review.tags):
                        variant = make(tag)
                        # The established spelling must stay the most used one by a margin.
                        if variant is None or variant == tag or counts[tag] < 3:
                            continue
                        if counts[variant] + 1 < counts[tag] - 1:
                            return position, tag, variant
                    return None

                picked = picker.pick(variant_of)
                if picked is None:
                    break
                review, (position, tag, variant) = picked
                review.tags[position] = variant
                counts[tag] -= 1
                counts[variant] += 1
                detail = f"{kind} variant of `{tag}`"
                self._record_tag(review, variant, "TX001", "tag-variant", detail, tag)

        for _ in range(quota(RATE_TYPO) if quota else 0):

            def typo_of(review: Review):
                for position, tag in enumerate(review.tags):
                    source = fold(tag)
                    if counts[tag] < 3 or len(source) < 8 or any(c.isdigit() for c in tag):
                        continue
                    typo = _typo(rng, tag)
                    if typo is None or fold(typo) in used_folds:
                        continue
                    # Close to its source tag and to no other tag of the vocabulary.
                    owners = {self.owners.get(v) for v in _deletions(fold(typo), 2)}
                    if owners <= {source, None}:
                        return position, tag, typo
                return None

            picked = picker.pick(typo_of)
            if picked is None:
                break
            review, (position, tag, typo) = picked
            review.tags[position] = typo
            counts[tag] -= 1
            counts[typo] += 1
            used_folds.add(fold(typo))
            self._record_tag(review, typo, "TX002", "tag-near-miss", f"typo of `{tag}`", tag)

        handles = set(self.authors)
        for _ in range(quota(RATE_EACH_MISTAKE) if quota else 0):
            picked = picker.pick(lambda r: 0 if r.targets else None)
            if picked is not None:
                picked[0].dead_link = 0
        for _ in range(quota(RATE_EACH_MISTAKE) if quota else 0):
            picked = picker.pick(lambda r: True)
            if picked is not None:
                picked[0].undefined_reference = True
        for _ in range(quota(RATE_EACH_MISTAKE) if quota else 0):
            picked = picker.pick(lambda r: _unknown_handle(r.author, handles))
            if picked is not None:
                picked[0].bad_author = picked[1]
        for _ in range(quota(RATE_EACH_MISTAKE) if quota else 0):
            picked = picker.pick(lambda r: True)
            if picked is not None:
                picked[0].no_signature = True

    def _record_tag(
        self, review: Review, spelling: str, code: str, name: str, detail: str, right: str
    ) -> None:
        # The line is filled in when the file is rendered.
        self.mistakes.append(
            PlantedMistake(review.path, 0, code, name, f"{detail}: `{spelling}`", right)
        )


class _Picker:
    """Hands out published posts in a seeded random order, each at most once."""

    def __init__(self, rng: Random, reviews: list[Review]) -> None:
        self.reviews = reviews
        self.order = [r.index for r in reviews if not r.draft and r.published]
        rng.shuffle(self.order)
        self.cursor = 0
        self.taken: set[int] = set()

    def pick(self, choose: Callable[[Review], Any]) -> tuple[Review, Any] | None:
        """The next free review for which `choose` gives something (not None), and that thing."""
        for _ in range(len(self.order)):
            review = self.reviews[self.order[self.cursor % len(self.order)]]
            self.cursor += 1
            if review.index in self.taken:
                continue
            chosen = choose(review)
            if chosen is not None:
                self.taken.add(review.index)
                return review, chosen
        return None


_NO_DIGITS = str.maketrans("", "", "0123456789")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_TOKEN = re.compile(r"\[[^\]]*\](?:\[[^\]]*\]|\([^)]*\))[^\s]*|\S+")  # links never wrap


def _case_variant(tag: str) -> str | None:
    if not any(char.isalpha() for char in tag):
        return None
    if tag == tag.lower():
        return tag[0].upper() + tag[1:] if tag[0].isalpha() else None
    return tag.lower()


def _spacing_variant(tag: str) -> str | None:
    if "-" in tag:
        return tag.replace("-", " ")
    if " " in tag and not any(char.isdigit() for char in tag):
        return tag.replace(" ", "-")
    return None


def _accent_variant(tag: str) -> str | None:
    plain = strip_accents(tag)
    return plain if plain != tag and fold(plain) == fold(tag) else None


def _typo(rng: Random, tag: str) -> str | None:
    """One edit inside a word of letters: swap two neighbours, drop or double a letter."""
    spots = [i for i in range(1, len(tag) - 1) if tag[i].isalpha() and tag[i - 1].isalpha()]
    if not spots:
        return None
    i = rng.choice(spots)
    kind = rng.random()
    if kind < 0.5 and tag[i] != tag[i - 1]:
        return tag[: i - 1] + tag[i] + tag[i - 1] + tag[i + 1 :]
    if kind < 0.8:
        return tag[:i] + tag[i + 1 :]
    return tag[:i] + tag[i] + tag[i:]


def _unknown_handle(handle: str, handles: set[str]) -> str:
    for candidate in (handle[:-1], handle + handle[-1], handle[1:] + handle[0], handle + "2"):
        if candidate not in handles and len(candidate) >= 3:
            return candidate
    return handle + "-x"


# -- rendering --------------------------------------------------------------------------------


def _wrap(text: str, width: int = 96) -> list[str]:
    """Lines of at most ~`width` columns, as a person's editor would wrap them; links never break."""
    lines: list[str] = []
    current: list[str] = []
    length = -1
    for word in _TOKEN.findall(text):
        if current and length + 1 + len(word) > width:
            lines.append(" ".join(current))
            current = [word]
            length = len(word)
        else:
            current.append(word)
            length += 1 + len(word)
    lines.append(" ".join(current))
    return lines


def _flow_item(tag: str) -> str:
    if any(char in tag for char in ",[]{}:#'\"&*!|>%@`") or tag.strip() != tag:
        return '"' + tag.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return tag


def _render(
    planner: _Planner,
    review: Review,
    reviews: list[Review],
    mistakes: list[PlantedMistake],
    tag_lines: dict[tuple[str, str], int],
) -> tuple[str, int]:
    """The review's text, and how many internal links it holds."""
    rng = planner.rng
    lines: list[str] = ["---", f"published: {'true' if review.published else 'false'}"]
    lines.append(f"imdb: {review.imdb}")
    lines.append(f"image: {review.image}")
    author = review.bad_author or review.author
    lines.append(f"author: {author}")
    if review.bad_author:
        mistakes.append(
            PlantedMistake(
                review.path,
                len(lines),
                "FM009",
                "unknown-author",
                f"author `{author}`",
                review.author,
            )
        )
    stars = review.stars
    lines.append(f"stars: {int(stars) if stars == int(stars) else stars}")
    lines.append(f"excerpt: {review.excerpt}" if review.excerpt else "excerpt:")
    lines.append(f"position: {review.position}")
    lines.append(f"addressee: {review.addressee}")
    if review.explicit_layout or review.draft:
        lines.append("layout: review")
    lines += ["categories:", "  - reviews", f"  - {review.category}"]
    lines.append(f'title: "{review.title}"')
    lines.append(f"comments: {'true' if review.comments else 'false'}")
    if review.block_tags:
        lines.append("tags:")
        for tag in review.tags:
            lines.append(f"  - {_flow_item(tag)}")
            tag_lines[(review.path, tag)] = len(lines)
    else:
        lines.append("tags: [" + ", ".join(_flow_item(tag) for tag in review.tags) + "]")
        for tag in review.tags:
            tag_lines[(review.path, tag)] = len(lines)
    lines.append("---")
    lines.append(f"_**Dear {review.addressee}**, {review.position},_")

    # Paragraphs of prose, with the link sentences spread among them.
    paragraphs: list[list[str]] = [[] for _ in range(3 + int(rng.random() * 4))]
    deck: list[int] = []  # every template once before any twice
    for paragraph in paragraphs:
        for _ in range(4 + int(rng.random() * 3)):
            if not deck:
                deck = list(range(len(_PLAIN.parsed)))
                rng.shuffle(deck)
            paragraph.append(_fill(rng, _PLAIN.parsed[deck.pop()], {}))
    definitions: list[str] = []
    label = 0
    internal = 0
    dead_line_label: int | None = None
    for position, target_index in enumerate(review.targets):
        target = reviews[target_index]
        parts = _LINKED.parsed[int(rng.random() * len(_LINKED.parsed))]
        paragraph = paragraphs[int(rng.random() * len(paragraphs))]
        internal += 1
        if position != review.dead_link and rng.random() < 0.1:
            # An inline link through Jekyll's tag: `[Title]({% post_url 2013-09-13-slug %})`.
            sentence = _fill(rng, parts, {"title": target.title, "label": "0"})
            inline = "[" + target.title + "]({% post_url " + target.post_id + " %})"
            paragraph.insert(0, sentence.replace(f"[{target.title}][0]", inline))
            continue
        label += 1
        paragraph.insert(0, _fill(rng, parts, {"title": target.title, "label": str(label)}))
        if position == review.dead_link:
            wrong = target.day.day + 1 if target.day.day < 28 else target.day.day - 1
            url = url_of(target.day.replace(day=wrong), target.slug)
            dead_line_label = label
        else:
            url = target.url
            if target.heading is not None and rng.random() < 0.3:
                url += "#" + target.heading[1]
        definitions.append(f"   [{label}]: {url}")
    label += 1
    parts = _IMDB.parsed[int(rng.random() * len(_IMDB.parsed))]
    paragraphs[-1].append(_fill(rng, parts, {"label": str(label)}))
    definitions.append(f"   [{label}]: http://www.imdb.com/title/{review.imdb}/")
    undefined_label = label + 1 if review.undefined_reference else None
    if undefined_label is not None:
        paragraphs[0].append(f"I said as much about [a film I loved last year][{undefined_label}].")

    for number, paragraph in enumerate(paragraphs):
        if review.heading is not None and number == 1:
            lines += ["", f"## {review.heading[0]}", "{:#" + review.heading[1] + "}"]
        lines.append("")
        lines += _wrap(" ".join(paragraph))
    if undefined_label is not None:
        needle = f"][{undefined_label}]"
        line_number = next(n for n, text in enumerate(lines, 1) if needle in text)
        mistakes.append(
            PlantedMistake(
                review.path,
                line_number,
                "LK003",
                "undefined-reference",
                f"reference `[{undefined_label}]` with no definition",
            )
        )
    lines.append("")
    for definition in definitions:
        lines.append(definition)
        if dead_line_label is not None and definition.startswith(f"   [{dead_line_label}]: "):
            target = reviews[review.targets[review.dead_link or 0]]
            mistakes.append(
                PlantedMistake(
                    review.path,
                    len(lines),
                    "LK001",
                    "dead-internal-link",
                    f"link to `{definition.split(': ', 1)[1]}`: a day off",
                    target.url,
                )
            )
    if review.no_signature:
        mistakes.append(
            PlantedMistake(
                review.path, len(lines), "LT003", "missing-signature", "no signature block"
            )
        )
    else:
        closing = CLOSINGS[int(rng.random() * len(CLOSINGS))]
        first_name = planner.authors.get(review.author, review.author).split(" ")[0]
        lines += [
            "",
            "{% contentfor signature %}",
            f"**{closing},**",
            "",
            first_name,
            "{% endcontentfor %}",
        ]
    return "\n".join(lines) + "\n", internal


CONFIG = """\
title: {title}
description: >-
  A generated site of film reviews written as letters (seed {seed}, {count} reviews), for
  letterhead's benchmarks and tests.
url: "https://letters.example"
baseurl: ""
permalink: {permalink}
markdown: kramdown
plugins: []

exclude:
  - README.md

defaults:
  - scope:
      path: ""
      type: posts
    values:
      layout: review
      comments: true

letterhead:
  letter_layouts: [review]
  image_dirs: [images]
"""

FALLBACK_LAYOUTS = {
    "default.html": "<!doctype html>\n<html><body>{{ content }}</body></html>\n",
    "review.html": (
        "---\nlayout: default\n---\n<h1>{{ page.title }}</h1>\n{{ content }}\n"
        "{% if page.signature %}{{ page.signature | markdownify }}{% endif %}\n"
    ),
    "post.html": "---\nlayout: default\n---\n<h1>{{ page.title }}</h1>\n{{ content }}\n",
}
FALLBACK_PLUGIN = """\
module Jekyll
  class ContentForBlock < Liquid::Block
    def initialize(tag_name, markup, tokens)
      super
      @name = markup.strip
    end

    def render(context)
      page = context.registers[:page]
      page[@name] = super.to_s.strip if page.respond_to?(:[]=)
      ""
    end
  end
end

Liquid::Template.register_tag("contentfor", Jekyll::ContentForBlock)
"""


def _prepare(out: Path) -> None:
    if out.exists():
        if (out / MARKER).exists():
            shutil.rmtree(out)
        elif out.is_dir() and not any(out.iterdir()):
            pass
        else:
            raise FileExistsError(
                f"{out} exists and was not made by this generator; choose a new folder"
            )
    for folder in ("_posts", "_drafts", "_layouts", "_plugins", "_data", "images"):
        (out / folder).mkdir(parents=True, exist_ok=True)


def _write_scaffold(out: Path, planner: _Planner, seed: int, count: int) -> None:
    (out / MARKER).write_text(f"seed {seed}, {count} reviews\n", encoding="utf-8")
    (out / "_config.yml").write_text(
        CONFIG.format(
            title=f"Generated Letters {seed}", seed=seed, count=count, permalink=PERMALINK
        ),
        encoding="utf-8",
    )
    for name, fallback in FALLBACK_LAYOUTS.items():
        source = EXAMPLE_SITE / "_layouts" / name
        text = source.read_text(encoding="utf-8") if source.is_file() else fallback
        (out / "_layouts" / name).write_text(text, encoding="utf-8")
    plugin = EXAMPLE_SITE / "_plugins" / "contentfor.rb"
    (out / "_plugins" / "contentfor.rb").write_text(
        plugin.read_text(encoding="utf-8") if plugin.is_file() else FALLBACK_PLUGIN,
        encoding="utf-8",
    )
    for page in ("tags.html", "feed.xml"):  # pages the example's layouts link to
        source = EXAMPLE_SITE / page
        if source.is_file():
            shutil.copyfile(source, out / page)
    authors = []
    for handle, name in planner.authors.items():
        authors.append(
            f"{handle}:\n  name: {name}\n  bio: Writes letters to {planner._person()} and others.\n"
        )
    (out / "_data" / "authors.yml").write_text("".join(authors), encoding="utf-8")
    (out / "about.md").write_text(
        '---\nlayout: default\ntitle: "About"\nauthor: '
        + next(iter(planner.authors))
        + "\npermalink: /about/\n---\nEvery review here is a letter, generated for testing.\n",
        encoding="utf-8",
    )
    (out / "index.html").write_text(
        '---\nlayout: default\ntitle: "Letters"\n---\n<ul>\n'
        "{% for post in site.posts limit: 50 %}"
        '<li><a href="{{ post.url | relative_url }}">{{ post.title | escape }}</a></li>'
        "{% endfor %}\n</ul>\n",
        encoding="utf-8",
    )


def generate_site(out: Path, reviews: int, seed: int = 1) -> GeneratedSite:
    """Write a site of `reviews` reviews to `out` (new, empty, or made by this generator)."""
    if reviews < 0:
        raise ValueError("reviews must be zero or more")
    started = time.perf_counter()
    out = Path(out)
    planner = _Planner(reviews, seed)
    plan = planner.plan()
    _prepare(out)
    _write_scaffold(out, planner, seed, reviews)

    mistakes: list[PlantedMistake] = []
    tag_lines: dict[tuple[str, str], int] = {}
    written = 0
    links = 0
    # Reviews with the same grey share one image file through hard links: creating 20,000 small
    # files costs far more in the file system than linking them.
    images: dict[int, str] = {}
    folder = str(out)
    for review in plan:
        text, internal = _render(planner, review, plan, mistakes, tag_lines)
        links += internal
        data = text.encode("utf-8")
        with open(f"{folder}/{review.path}", "wb") as handle:
            handle.write(data)
        written += len(data)
        gray = 40 + (review.index * 37) % 176
        image = f"{folder}/images/{review.image}"
        first = images.get(gray)
        if first is not None:
            try:
                os.link(first, image)
                continue
            except OSError:  # no hard links here (or too many): write a copy
                pass
        with open(image, "wb") as handle:
            handle.write(tiny_jpeg(gray))
        images.setdefault(gray, image)

    for mistake in planner.mistakes:  # tag mistakes: find their lines now
        spelling = mistake.detail.rsplit("`", 2)[-2]
        line = tag_lines.get((mistake.path, spelling), 0)
        mistakes.append(
            PlantedMistake(
                mistake.path, line, mistake.code, mistake.name, mistake.detail, mistake.expected
            )
        )
    mistakes.sort(key=lambda m: (m.path, m.line, m.code))

    counts: Counter[str] = Counter(tag for review in plan for tag in review.tags)
    return GeneratedSite(
        root=out,
        seed=seed,
        reviews=len(plan),
        posts=sum(1 for r in plan if not r.draft),
        drafts=sum(1 for r in plan if r.draft),
        unpublished=sum(1 for r in plan if not r.draft and not r.published),
        images=len(plan),
        authors=len(planner.authors),
        links=links,
        vocabulary=len(planner.vocabulary),
        tag_counts=dict(sorted(counts.items(), key=lambda item: (-item[1], item[0]))),
        urls={r.path: r.url for r in plan if not r.draft and r.published},
        mistakes=mistakes,
        bytes=written,
        seconds=time.perf_counter() - started,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder to write the site into (new or empty)")
    parser.add_argument("--reviews", type=int, default=1000, help="how many reviews (default 1000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument(
        "--manifest", type=Path, help="write the planted mistakes and counts as JSON here"
    )
    args = parser.parse_args(argv)
    try:
        site = generate_site(args.out, args.reviews, args.seed)
    except (FileExistsError, ValueError) as error:
        print(f"generate.py: {error}", file=sys.stderr)
        return 2
    summary = site.summary()
    if args.manifest:
        manifest = dict(
            summary, mistakes=[asdict(m) for m in site.mistakes], tag_counts=site.tag_counts
        )
        args.manifest.write_text(
            json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
    print(json.dumps(summary, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
