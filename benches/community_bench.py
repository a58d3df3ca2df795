#!/usr/bin/env python3
"""Benchmark of the community (issue 6) with seeded data, against SQLite FTS5 in the same run.

Seeds a fresh data folder directly with sqlite3 (fixed random seed, so runs compare):
10,000 users, 100,000 posts of 100,000 assets over 90 days (85% public, 10% unlisted,
5% followers-only; half share their prompt), Zipf-distributed English creative
vocabulary and ~600 tags, ~300k follows, ~300k reactions and ~100k comments, with
engagement and trending ranks as the server keeps them. Then measures, on one release
server:

  * reindex: `stratamake search reindex` with no server running, in documents/s;
  * search: 1,000 realistic queries (1-3 words, 30% with a typo, 40% typed as a prefix)
    on GET /api/v1/search, anonymous, open loop at 200 requests/s for 30 s after a 5 s
    warm-up, every latency counted from its scheduled send time (no coordinated
    omission): p50, p90, p99, max;
  * feeds: GET /api/v1/feed?kind=latest, trending, and following (signed in, following
    200 people), each its own 30 s run at 200 requests/s, measured the same way;
  * baseline: SQLite FTS5 over the same public posts (title, description, tags, shared
    prompt) answering the same queries (quoted words ANDed, the last one as a prefix;
    bm25 order, top 20, highlight and snippet) at the same schedule, in-process with
    Python's sqlite3 and a few connections. It does no HTTP, JSON or visibility checks,
    so the ratios (ours / FTS5) favour it. Also how many queries each answers with
    nothing (FTS5 has no typo tolerance).

Each load run also reports the CPU used by this process, the server and everything else
on the machine; a run during which other processes were busy is flagged as unreliable.

Targets: search and feed p99 under 20 ms.

Usage: python3 benches/community_bench.py   (after `cargo build --release`)
Set BENCH_DIR to put the temporary data folder elsewhere than /var/tmp.
"""
import asyncio
import concurrent.futures
import hashlib
import http.client
import itertools
import json
import math
import os
import random
import re
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import zlib

from benchlib import BINARY, PASSWORD, free_port

SEED = 6
USERS = 10_000
POSTS = 100_000
FOLLOWS = 300_000
REACTIONS = 300_000
COMMENTS = 100_000
BENCH_FOLLOWS = 200
DAYS = 90
QUERIES = 1_000
RATE = 200
SECONDS = 30
WARMUP = 5
CONNECTIONS = 16
FTS_CONNECTIONS = 4
TARGET_P99_MS = 20
# CPU of other processes (% of one core) above which a run's figures are flagged.
BUSY_PERCENT = 15

# The vocabulary, each list roughly from common to rare: the order is the Zipf rank.
SUBJECTS = """dragon cat fox owl robot castle forest portrait landscape wolf knight wizard
astronaut lighthouse mountain ocean flower tree garden skull spaceship car bird horse samurai
mermaid phoenix unicorn bear deer rabbit butterfly jellyfish whale octopus koi turtle frog raven
tiger lion panda penguin hedgehog mushroom cottage temple tower bridge village island waterfall
volcano moon planet galaxy nebula comet crystal sword shield helmet armor mask crown throne
lantern clock teapot vase chessboard figurine miniature bust statue golem goblin elf dwarf orc
witch vampire ghost angel demon titan cyborg android mech drone submarine airship train tram
bicycle motorcycle cathedral library market harbor alley rooftop greenhouse observatory windmill
cabin treehouse shrine pagoda monastery ruins fountain labyrinth dungeon tavern""".split()
ADJECTIVES = """ancient tiny giant glowing cozy mysterious abandoned floating ethereal majestic cute
fierce elegant weathered ornate minimal surreal whimsical haunted serene epic delicate rusty
broken frozen burning sleepy curious lonely hidden sacred forgotten mechanical enchanted wild
gentle dark bright misty dreamy vibrant faded intricate geometric organic smooth rough polished
translucent iridescent luminous shadowy stormy sunny quiet retro futuristic medieval victorian
gothic nordic celestial infernal primal""".split()
STYLES = """watercolor photorealistic anime cinematic lowpoly pixelart cyberpunk steampunk fantasy
isometric voxel sketch ink charcoal pastel gouache impressionist cubist surrealist minimalist
vaporwave synthwave ukiyoe nouveau deco bauhaus noir claymation papercut origami lineart
chibi baroque renaissance mosaic graffiti lithograph woodcut engraving diorama""".split()
MATERIALS = """wood metal stone marble brass copper bronze gold silver glass ceramic porcelain
resin clay paper leather velvet silk wool concrete steel iron jade obsidian ivory pearl bamboo
cork felt rubber chrome titanium granite sandstone terracotta pewter enamel lacquer""".split()
COLOURS = """red blue green black white golden purple pink orange teal turquoise crimson emerald
azure violet coral indigo magenta scarlet ochre sepia beige cyan lavender mint maroon navy olive
peach rose cobalt vermilion saffron""".split()
PLACES = """city desert jungle swamp tundra canyon valley meadow beach cave glacier reef savanna
prairie lagoon fjord highlands marsh oasis archipelago metropolis suburbs countryside underworld
skyline wasteland orbit asteroid moonbase catacombs""".split()
LIGHTS = """sunset sunrise moonlight twilight dusk dawn fog rain snow storm neon candlelight
firelight starlight aurora haze mist shadows sunbeams backlight rimlight bokeh godrays overcast
noon midnight""".split()
VERBS = """sleeping flying reading dancing fighting dreaming walking running swimming singing
painting fishing hunting resting exploring guarding watching floating melting blooming growing
falling climbing drifting waiting hiding""".split()
RARE = """astrolabe orrery nautilus chiaroscuro sgraffito filigree damascus kintsugi quetzal axolotl
pangolin narwhal chimera basilisk wyvern kraken leviathan manticore griffin sphinx minotaur
cerberus hydra salamander ouroboros mandala zeppelin gramophone metronome sextant periscope
kaleidoscope terrarium bonsai ikebana calligraphy scrimshaw marquetry repousse cloisonne
millefiori guilloche mezzotint aquatint gyotaku suminagashi shibori batik macrame tapestry
gargoyle caryatid obelisk ziggurat minaret portcullis belfry trebuchet galleon schooner frigate
dirigible monorail funicular aqueduct colonnade pergola gazebo conservatory apothecary alchemist
cartographer clockmaker blacksmith lamplighter beekeeper taxidermy herbarium ammonite trilobite
geode amethyst labradorite malachite lapis tourmaline opal moonstone bioluminescent
phosphorescent holographic prismatic anamorphic stereoscopic tessellated fractal voronoi gyroid
lattice hexagonal parametric topographic""".split()
COMMUNITY_TAGS = """3dprint fanart wip commission render blender sdxl aiart generated texture sculpt
papercraft printable miniatures tabletop dnd wargaming cosplay props terrain resinprint fdm
photogrammetry conceptart characterdesign environment worldbuilding dailyart sketchbook study
challenge inktober remix favourite experiment tutorial process gift""".split()
FIRST_NAMES = """mira tomas ana lucas sofia noah emma liam yuki hiro amara kofi lena jonas ines
mateo zara omar nina felix clara hugo maya leo iris elias aiko ravi priya arjun chen wei mei
sven astrid freya olaf dmitri katya ivan elena paolo giulia marco chiara pierre amelie jules
chloe sam alex robin kai nora finn ada ezra luna theo rosa diego carmen pablo lucia ahmed layla
youssef nadia kwame abena tariq selin emre""".split()
SURNAMES = """okafor novak silva tanaka larsen moreau rossi schmidt kowalski haddad mensah
nakamura fischer petrov ivanova garcia lopez martin bernard dubois weber becker russo romano
costa ferreira santos kim park lee nguyen tran sato suzuki watanabe ito mueller jensen hansen
nielsen berg lindqvist virtanen korhonen oconnor murphy kelly walsh byrne brennan reyes cruz
ortiz mendez castillo yilmaz demir sahin""".split()
HANDLE_WORDS = """makes renders prints sketches studio works lab forge craft arts models draws
pixels clay builds designs""".split()

TITLES = ["{adj} {subject}", "The {adj} {subject}", "{subject} in the {place}",
          "{colour} {subject} at {light}", "{adj} {subject} of the {place}", "{style} {subject}",
          "{subject} {verb} at {light}", "{material} {subject}, {style} study",
          "A {adj} {subject} {verb} in the {place}", "{subject} and {subject2}"]
SENTENCES = ["A {adj} {subject} {verb} in the {place}.",
             "Rendered in {style} style with {material} textures and {colour} highlights.",
             "Lit by {light}, the whole scene feels {adj2} and {adj3}.",
             "I printed this one in {material} at 0.{n} mm layer height.",
             "Inspired by the {place} and old {style} posters.",
             "The {subject} took about {n} hours to model and another {n2} to paint.",
             "Prompt tweaks: more {light}, less {colour2}, and a {adj2} {subject2} in the back.",
             "Feedback welcome, especially on the {material2} and the {colour} palette.",
             "Part of my {style} series about the {place}.",
             "Started as a quick sketch of a {subject2} and turned into this.",
             "Details: {rare} motifs and {material} inlays around the {subject}.",
             "The {colour} {light} was the hardest part to get right.",
             "Printed without supports, sanded and finished with {colour} {material2} paint."]
PROMPTS = ["{adj} {subject} {verb} in a {adj2} {place}, {style}, {light}, highly detailed",
           "{subject} made of {material}, {colour} and {colour2}, {style}, studio lighting",
           "portrait of a {adj} {subject}, {style}, {light}, {material} armor, 8k, sharp focus",
           "{style} {place} with a {subject}, {light}, {colour} palette, volumetric light",
           "a {adj} {material} {subject}, product photo, {light}, {colour} background"]
BIOS = ["I make {style} things, mostly {subject}s.", "3D printing {material} {subject}s since 20{n}.",
        "{style} artist from the {place}. Commissions open.", "Learning Blender one {subject} at a time.",
        "Tabletop miniatures, terrain and the occasional {subject}.",
        "Photographer turned {style} illustrator. My favourite colour is {colour}."]
COMMENT_TEXTS = ["Love the {material} texture!", "How long did the {subject} take to print?",
                 "The {light} looks amazing.", "Great {style} work.", "Which resin did you use for this?",
                 "That {colour} palette is gorgeous.", "Would love an STL of this {subject}!",
                 "This reminds me of the {place}.", "Incredible detail on the {subject2}.",
                 "Saving this for my next {style} project."]
REACTION_KINDS = ["like", "love", "fire", "wow", "laugh"]
REACTION_WEIGHTS = [60, 15, 12, 8, 5]

BASE32 = "0123456789abcdefghjkmnpqrstvwxyz"


class Zipf:
    """Draws from a list where the item of rank r has weight 1 / r^exponent."""

    def __init__(self, items, exponent=1.0):
        self.items = list(items)
        self.cumulative = list(itertools.accumulate(1 / rank ** exponent for rank in range(1, len(self.items) + 1)))

    def draw(self, rng, k=1):
        return rng.choices(self.items, cum_weights=self.cumulative, k=k)

    def one(self, rng):
        return self.draw(rng)[0]


class Vocabulary:
    """Slot words for the text templates, Zipf-weighted per category, with a rare word now
    and then in place of a subject, adjective or material."""

    RARE_CHANCE = 0.005

    def __init__(self):
        self.categories = {
            "subject": Zipf(SUBJECTS), "adj": Zipf(ADJECTIVES), "style": Zipf(STYLES),
            "material": Zipf(MATERIALS), "colour": Zipf(COLOURS), "place": Zipf(PLACES),
            "light": Zipf(LIGHTS), "verb": Zipf(VERBS), "rare": Zipf(RARE, exponent=1.3),
        }
        self.tags = Zipf(COMMUNITY_TAGS + shuffled(sorted(set(SUBJECTS + STYLES + MATERIALS + COLOURS
                                                              + PLACES + LIGHTS + ADJECTIVES + RARE)), SEED))
        self.searchable = ["subject", "adj", "style", "material", "colour", "place", "light"]

    def word(self, rng, category):
        if category == "n":
            return str(rng.randint(2, 40))
        if category in ("subject", "adj", "material") and rng.random() < self.RARE_CHANCE:
            category = "rare"
        return self.categories[category].one(rng)

    def slots(self, rng):
        """A post's theme: each slot name is drawn once, so its title, description and
        prompt talk about the same things ("subject2" is another subject)."""
        return Slots(lambda key: self.word(rng, key.rstrip("0123456789")))

    def query_word(self, rng):
        """A word someone searches for: a category at random, then Zipf within it, or
        one of the rare words."""
        if rng.random() < 0.12:
            return rng.choice(RARE)
        return self.categories[rng.choice(self.searchable)].one(rng)


class Slots(dict):
    """Template slots drawn on first use, then the same for the rest of the post."""

    def __init__(self, draw):
        super().__init__()
        self.draw = draw

    def __missing__(self, key):
        self[key] = self.draw(key)
        return self[key]


def shuffled(items, seed):
    items = list(items)
    random.Random(seed).shuffle(items)
    return items


def base32_id(value, length):
    return "".join(BASE32[(value >> (5 * (length - 1 - i))) & 31] for i in range(length))


def random_id(rng):
    return base32_id(rng.getrandbits(130), 26)


def sortable_id(rng, seconds):
    """Like the server's ids: 48 bits of milliseconds, then 80 random bits."""
    millis = seconds * 1000 + rng.randrange(1000)
    return base32_id(millis << 2, 10) + base32_id(rng.getrandbits(80), 16)


def hot_rank(engagement, created_at):
    return created_at + math.floor(43_200 * math.log(1 + engagement) + 0.5)


def capitalized(text):
    return text[:1].upper() + text[1:]


def words_between(make, low, high):
    """A text from `make` with `low` to `high` words."""
    while True:
        text = make()
        if low <= len(text.split()) <= high:
            return text


def english(text):
    """Fixes the article before a vowel ("a ancient" -> "an ancient")."""
    return re.sub(r"\b([Aa]) (?=[aeiou])", r"\1n ", text)


def description(rng, slots):
    """Sentences of the post's theme, none twice, 10 to 80 words."""
    target = rng.randint(10, 80)
    sentences, count = [], 0
    for template in rng.sample(SENTENCES, len(SENTENCES)):
        sentence = template.format_map(slots)
        if count >= target or (sentences and count + len(sentence.split()) > 80):
            break
        sentences.append(sentence)
        count += len(sentence.split())
    return english(" ".join(sentences))


def png_bytes(size=64):
    """A small RGB gradient PNG."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + bytes(v for x in range(size) for v in (x * 4, y * 4, 160)) for y in range(size))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def store_blob(data_dir, content):
    """Writes a file where the blob store keeps it (blobs/sha256/ab/cd/<hash>); returns its hash."""
    digest = hashlib.sha256(content).hexdigest()
    folder = os.path.join(data_dir, "blobs", "sha256", digest[:2], digest[2:4])
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, digest), "wb") as f:
        f.write(content)
    return digest


def seed_users(db, rng, vocabulary, now):
    """Inserts the users; returns their ids and how active / followed each one is."""
    ids, taken, rows = [], set(), []
    while len(ids) < USERS:
        first, last = rng.choice(FIRST_NAMES), rng.choice(SURNAMES)
        username = rng.choice([f"{first}{last}", f"{first}_{last}", f"{first}.{rng.choice(HANDLE_WORDS)}",
                               f"{first}{rng.randint(1, 999)}", f"{last}{rng.choice(HANDLE_WORDS)}"])
        if username in taken:
            continue
        taken.add(username)
        user_id = random_id(rng)
        ids.append(user_id)
        slots = vocabulary.slots(rng)
        bio = rng.choice(BIOS).format_map(slots) if rng.random() < 0.7 else ""
        created = now - rng.randint(DAYS, 800) * 86400 - rng.randrange(86400)
        rows.append((user_id, username, f"{username}@example.org", created, f"{first.title()} {last.title()}",
                     bio, created, created))
    db.executemany("INSERT INTO users (id, username, email, email_verified_at, display_name, bio, created_at,"
                   " terms_accepted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    popularity = [rng.lognormvariate(0, 1.3) for _ in ids]
    return ids, popularity


def seed_posts(db, rng, vocabulary, users, activity, blob, now):
    """Inserts one asset and one post each; returns (post id, created_at, visibility) per post."""
    authors = rng.choices(users, weights=activity, k=POSTS)
    posts, asset_rows, post_rows, tag_rows = [], [], [], []
    for author in authors:
        created = now - rng.randrange(DAYS * 86400)
        slots = vocabulary.slots(rng)
        title = capitalized(english(words_between(lambda: rng.choice(TITLES).format_map(slots), 2, 7)))
        model = rng.random() < 0.2
        generated = rng.random() < 0.7
        visibility = rng.choices(["public", "unlisted", "followers"], weights=[85, 10, 5])[0]
        params = None
        if generated:
            params = {"prompt": english(rng.choice(PROMPTS).format_map(slots)), "negative_prompt": "blurry, low quality",
                      "model": "sdxl-turbo", "width": 1024, "height": 1024, "steps": 4, "guidance_scale": 0.0,
                      "scheduler": "euler_a", "seed": rng.getrandbits(32)}
        asset_id = random_id(rng)
        stem = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
        asset_rows.append((
            asset_id, author, "model" if model else "image", "generated" if generated else "upload", title,
            f"{stem}.{'glb' if model else 'png'}", "glb" if model else "png",
            "model/gltf-binary" if model else "image/png", blob["hash"], blob["size"],
            None if model else 1024, None if model else 1024, rng.randint(5_000, 400_000) if model else None,
            blob["hash"], blob["hash"], json.dumps(params) if params else None, created - rng.randint(60, 7200)))
        tags = []
        for tag in ([slots["subject"]] if rng.random() < 0.5 else []) + vocabulary.tags.draw(rng, k=6):
            if tag not in tags:
                tags.append(tag)
        tags = tags[:rng.choices(range(7), weights=[15, 15, 20, 20, 15, 10, 5])[0]]
        post_id = sortable_id(rng, created)
        post_rows.append((post_id, author, asset_id, title, description(rng, slots), json.dumps(tags), visibility,
                          int(rng.random() < 0.5), hot_rank(0, created), created, created))
        tag_rows.extend((tag, post_id) for tag in tags)
        posts.append((post_id, created, visibility))
    db.executemany("INSERT INTO assets (id, user_id, kind, source, title, filename, format, mime, blob_hash, size,"
                   " width, height, triangles, thumb_hash, preview_hash, params, created_at)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", asset_rows)
    db.executemany("INSERT INTO posts (id, user_id, asset_id, title, description, tags, visibility, remix, hot,"
                   " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", post_rows)
    db.executemany("INSERT INTO post_tags (tag, post_id) VALUES (?, ?)", tag_rows)
    return posts


def seed_follows(db, rng, users, popularity, bench_id, now):
    """Follows drawn by popularity (no one follows themselves); `bench` follows 200 people."""
    pairs = set()
    while len(pairs) < FOLLOWS:
        for follower, followee in zip(rng.choices(users, k=FOLLOWS), rng.choices(users, weights=popularity, k=FOLLOWS)):
            if follower != followee and len(pairs) < FOLLOWS:
                pairs.add((follower, followee))
    followed = set()
    while len(followed) < BENCH_FOLLOWS:
        followed.add(rng.choices(users, weights=popularity)[0])
    pairs.update((bench_id, followee) for followee in followed)
    db.executemany("INSERT INTO follows (follower_id, followee_id, created_at) VALUES (?, ?, ?)",
                   [(a, b, now - rng.randrange(DAYS * 86400)) for a, b in sorted(pairs)])
    return len(pairs)


def seed_engagement(db, rng, vocabulary, users, posts, now):
    """Reactions and comments, skewed towards popular posts, then each post's engagement
    (reactions + 2 x comments) and trending rank."""
    weights = [rng.lognormvariate(0, 1.5) for _ in posts]
    engagement = [0] * len(posts)
    picked, seen = [], set()
    while len(picked) < REACTIONS:
        for reaction in zip(rng.choices(range(len(posts)), weights=weights, k=REACTIONS),
                            rng.choices(users, k=REACTIONS),
                            rng.choices(REACTION_KINDS, weights=REACTION_WEIGHTS, k=REACTIONS)):
            if len(picked) < REACTIONS and reaction not in seen:
                seen.add(reaction)
                picked.append(reaction)
                engagement[reaction[0]] += 1
    db.executemany("INSERT INTO reactions (user_id, post_id, kind, created_at) VALUES (?, ?, ?, ?)",
                   [(user, posts[post][0], kind, rng.randint(posts[post][1], now)) for post, user, kind in picked])
    top_level = {}
    rows = []
    for post, user in zip(rng.choices(range(len(posts)), weights=weights, k=COMMENTS), rng.choices(users, k=COMMENTS)):
        comment_id = random_id(rng)
        parents = top_level.setdefault(post, [])
        parent = rng.choice(parents) if parents and rng.random() < 0.3 else None
        if parent is None:
            parents.append(comment_id)
        rows.append((comment_id, posts[post][0], parent, user, rng.choice(COMMENT_TEXTS).format_map(vocabulary.slots(rng)),
                     rng.randint(posts[post][1], now)))
        engagement[post] += 2
    db.executemany("INSERT INTO comments (id, post_id, parent_id, user_id, body, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                   rows)
    db.executemany("UPDATE posts SET engagement = ?, hot = ? WHERE id = ?",
                   [(e, hot_rank(e, created), post_id) for (post_id, created, _), e in zip(posts, engagement) if e])


def seed(data_dir):
    """Fills the database; returns what it added."""
    rng = random.Random(SEED)
    vocabulary = Vocabulary()
    now = int(time.time())
    png = png_bytes()
    blob = {"hash": store_blob(data_dir, png), "size": len(png)}
    db = sqlite3.connect(os.path.join(data_dir, "stratamake.db"), isolation_level=None)
    db.execute("PRAGMA synchronous = OFF")
    db.execute("BEGIN")
    db.execute("INSERT INTO blobs (hash, size, created_at) VALUES (?, ?, ?)", (blob["hash"], blob["size"], now))
    bench_id = db.execute("SELECT id FROM users WHERE username = 'bench'").fetchone()[0]
    users, popularity = seed_users(db, rng, vocabulary, now)
    posts = seed_posts(db, rng, vocabulary, users, popularity, blob, now)
    follows = seed_follows(db, rng, users, popularity, bench_id, now)
    seed_engagement(db, rng, vocabulary, users, posts, now)
    db.execute("DELETE FROM search_outbox")
    db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    counts = {table: db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
              for table in ("users", "posts", "post_tags", "follows", "reactions", "comments")}
    counts["public_posts"] = sum(1 for _, _, visibility in posts if visibility == "public")
    counts["follows"] = follows
    db.close()
    shutil.rmtree(os.path.join(data_dir, "index"), ignore_errors=True)
    return counts


def make_queries(vocabulary):
    """(query, has_typo) pairs: 1-3 words, 30% with a one-letter typo in a word of 4+
    letters, 40% with the last word cut to 3-5 letters as if still being typed."""
    rng = random.Random(SEED + 1)
    queries = []
    for _ in range(QUERIES):
        words = [vocabulary.query_word(rng) for _ in range(rng.choices([1, 2, 3], weights=[45, 35, 20])[0])]
        if rng.random() < 0.4 and len(words[-1]) > 3:
            words[-1] = words[-1][:rng.randint(3, min(5, len(words[-1]) - 1))]
        typo = False
        candidates = [i for i, word in enumerate(words) if len(word) >= 4]
        if rng.random() < 0.3 and candidates:
            i = rng.choice(candidates)
            words[i] = misspelled(rng, words[i])
            typo = True
        queries.append((" ".join(words), typo))
    return queries


def misspelled(rng, word):
    at = rng.randrange(len(word) - 1)
    way = rng.choice(["swap", "drop", "replace"])
    if way == "swap":
        return word[:at] + word[at + 1] + word[at] + word[at + 2:]
    if way == "drop":
        return word[:at] + word[at + 1:]
    letter = rng.choice([c for c in "abcdefghijklmnopqrstuvwxyz" if c != word[at]])
    return word[:at] + letter + word[at + 1:]


def create_account(env):
    """The `bench` account (the shell creates administrators only); applies the migrations."""
    subprocess.run([BINARY, "admin", "create-user", "--admin", "--email", "bench@example.org", "--username", "bench",
                    "--password-stdin"], input=PASSWORD + "\n", text=True, env=env, check=True,
                   stdout=subprocess.DEVNULL)


def reindex(env):
    """Rebuilds the index with no server running: documents, seconds, documents/s, and the
    CPU other processes of the machine used meanwhile (% of one core)."""
    wall, machine, children = time.monotonic(), machine_busy_seconds(), os.times()
    out = subprocess.run([BINARY, "search", "reindex"], env=env, capture_output=True, text=True, check=True).stdout
    after = os.times()
    own = after.children_user + after.children_system - children.children_user - children.children_system
    others = machine_busy_seconds() - machine - own
    found = re.search(r"Rebuilt the search index: (\d+) documents in ([\d.]+) s \((\d+) documents/s\)", out)
    if not found:
        sys.exit(f"unexpected reindex output: {out}")
    return {"documents": int(found.group(1)), "seconds": float(found.group(2)),
            "documents_per_s": int(found.group(3)), "other_cpu_percent": max(0, round(100 * others / (time.monotonic() - wall)))}


def start_server(env, port):
    server = subprocess.Popen([BINARY, "serve", "--listen", f"127.0.0.1:{port}"], env=env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if http_get(port, "/readyz")[0] == 200:
                return server
        except OSError:
            time.sleep(0.05)
    stop(server)
    sys.exit("the server did not become ready")


def stop(process):
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def http_get(port, path, token=None):
    """(status, body) of one GET on its own connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers={"Authorization": f"Bearer {token}"} if token else {})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, body


def get_json(port, path, token=None):
    status, body = http_get(port, path, token)
    if status != 200:
        sys.exit(f"GET {path} answered {status}: {body[:300]!r}")
    return json.loads(body)


def login(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("POST", "/api/v1/auth/login", json.dumps({"login": "bench", "password": PASSWORD}),
                 {"content-type": "application/json"})
    return json.loads(conn.getresponse().read())["access_token"]


def search_path(query):
    return "/api/v1/search?q=" + urllib.parse.quote(query)


class KeepAliveClient:
    """GETs over a fixed set of keep-alive HTTP/1.1 connections; a request waits for a free one."""

    def __init__(self, port, token=None):
        self.port = port
        self.auth = f"Authorization: Bearer {token}\r\n" if token else ""
        self.idle = asyncio.Queue()

    async def open(self):
        for _ in range(CONNECTIONS):
            self.idle.put_nowait(await asyncio.open_connection("127.0.0.1", self.port))

    async def close(self):
        while not self.idle.empty():
            _, writer = self.idle.get_nowait()
            writer.close()

    async def get(self, path):
        """The answer's status (0 when the connection failed)."""
        reader, writer = await self.idle.get()
        try:
            writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{self.auth}\r\n".encode())
            status = await read_response(reader)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            status = 0
        self.idle.put_nowait((reader, writer))
        return status


async def read_response(reader):
    """Reads one response (Content-Length or chunked body); returns its status."""
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    status = int(head[0].split(" ", 2)[1])
    headers = dict((name.strip().lower(), value.strip()) for name, _, value in (line.partition(":") for line in head[1:]))
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding") == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status


async def open_loop(send, items):
    """Calls `send(item)` at RATE per second for WARMUP + SECONDS, cycling through `items`,
    each at its scheduled time whatever the earlier ones are doing. Returns the latencies
    (ms, from the scheduled time) and failures after the warm-up, and how late the
    generator itself started requests (p99 ms)."""
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05
    late = []

    async def timed(item, at):
        status = await send(item)
        return (loop.time() - at) * 1000, status

    tasks = []
    for i in range((WARMUP + SECONDS) * RATE):
        at = start + i / RATE
        delay = at - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        late.append((loop.time() - at) * 1000)
        tasks.append(asyncio.create_task(timed(items[i % len(items)], at)))
    results = (await asyncio.gather(*tasks))[WARMUP * RATE:]
    latencies = [ms for ms, _ in results]
    failures = [status for _, status in results if status != 200]
    return latencies, failures, percentile(late[WARMUP * RATE:], 99)


def percentile(values, p):
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def cpu_seconds(pid):
    """User + system CPU time of a process so far, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds():
    """CPU time all processes of the machine have used so far, from /proc/stat."""
    with open("/proc/stat") as f:
        user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, f.readline().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def measured_load(run, server_pid=None):
    """Runs an open-loop load (`run()` returns open_loop's answer) and sums it up, with the
    CPU used over the whole run, in % of one core, by this process (the generator, and for
    FTS5 the searches too), the server, and everything else on the machine (which should
    be near 0: other work on the machine spoils the figures)."""
    wall, own, machine = time.monotonic(), time.process_time(), machine_busy_seconds()
    server = cpu_seconds(server_pid) if server_pid else 0
    latencies, failures, late = run()
    wall = time.monotonic() - wall
    own = time.process_time() - own
    server = cpu_seconds(server_pid) - server if server_pid else 0
    machine = machine_busy_seconds() - machine
    stats = {"requests": len(latencies), "failures": len(failures),
             "p50_ms": percentile(latencies, 50), "p90_ms": percentile(latencies, 90),
             "p99_ms": percentile(latencies, 99), "max_ms": max(latencies),
             "generator_late_p99_ms": late, "client_cpu_percent": round(100 * own / wall),
             "other_cpu_percent": max(0, round(100 * (machine - own - server) / wall))}
    if server_pid:
        stats["server_cpu_percent"] = round(100 * server / wall)
    return stats, failures


def http_load(server, port, paths, token=None):
    async def run():
        client = KeepAliveClient(port, token)
        await client.open()
        try:
            return await open_loop(client.get, paths)
        finally:
            await client.close()
    stats, failures = measured_load(lambda: asyncio.run(run()), server.pid)
    if failures:
        sys.exit(f"{len(failures)} requests to {paths[0]} ... failed (statuses {sorted(set(failures))})")
    return stats


# The baseline: FTS5 over a copy of the seeded database.

FTS_BUILD = """
CREATE VIRTUAL TABLE posts_fts USING fts5(post_id UNINDEXED, title, description, tags, prompt,
    tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3');
INSERT INTO posts_fts (post_id, title, description, tags, prompt)
    SELECT p.id, p.title, p.description, (SELECT group_concat(value, ' ') FROM json_each(p.tags)),
           CASE WHEN p.remix THEN ifnull(json_extract(a.params, '$.prompt'), '') ELSE '' END
    FROM posts p JOIN users u ON u.id = p.user_id JOIN assets a ON a.id = p.asset_id
    WHERE p.visibility = 'public' AND p.moderation = 'ok' AND u.disabled_at IS NULL;
INSERT INTO posts_fts (posts_fts) VALUES ('optimize');
"""
# Field weights as ours: title 3, tags 2, description 1, prompt 0.7.
FTS_SEARCH = """
SELECT post_id, highlight(posts_fts, 1, '<mark>', '</mark>'),
       snippet(posts_fts, 2, '<mark>', '</mark>', '…', 24)
FROM posts_fts WHERE posts_fts MATCH ? ORDER BY bm25(posts_fts, 0, 3, 1, 2, 0.7) LIMIT 20
"""


def build_fts_copy(data_dir, path):
    """Copies the database and adds the FTS5 table; returns (documents, seconds)."""
    source = sqlite3.connect(os.path.join(data_dir, "stratamake.db"))
    copy = sqlite3.connect(path, isolation_level=None)
    source.backup(copy)
    source.close()
    started = time.perf_counter()
    copy.executescript(FTS_BUILD)
    seconds = time.perf_counter() - started
    documents = copy.execute("SELECT COUNT(*) FROM posts_fts").fetchone()[0]
    copy.close()
    return documents, seconds


def fts_match(query):
    """Each word a quoted term, the last one also as a prefix, all required."""
    words = query.split()
    return " AND ".join([f'"{word}"' for word in words[:-1]] + [f'"{words[-1]}"*'])


def fts_load(path, matches):
    local = threading.local()

    def search(match):
        if not hasattr(local, "db"):
            local.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        local.db.execute(FTS_SEARCH, (match,)).fetchall()
        return 200

    async def run():
        loop = asyncio.get_running_loop()
        with concurrent.futures.ThreadPoolExecutor(FTS_CONNECTIONS) as pool:
            return await open_loop(lambda match: loop.run_in_executor(pool, search, match), matches)
    return measured_load(lambda: asyncio.run(run()))[0]


def fts_empty(path, matches):
    """Which queries FTS5 finds nothing for."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    empty = [db.execute("SELECT 1 FROM posts_fts WHERE posts_fts MATCH ? LIMIT 1", (m,)).fetchone() is None
             for m in matches]
    db.close()
    return empty


def ours_empty(port, queries):
    return [not get_json(port, search_path(query))["items"] for query in queries]


def print_latency(label, stats):
    server = f", server {stats['server_cpu_percent']}%" if "server_cpu_percent" in stats else ""
    print(f"{label:<24}p50 {stats['p50_ms']:6.2f} ms  p90 {stats['p90_ms']:6.2f} ms  "
          f"p99 {stats['p99_ms']:6.2f} ms  max {stats['max_ms']:7.2f} ms  "
          f"(CPU: this process {stats['client_cpu_percent']}%{server}, others {stats['other_cpu_percent']}%)")


def main():
    if not os.path.exists(BINARY):
        sys.exit("build first: cargo build --release")
    began = time.perf_counter()
    work = tempfile.mkdtemp(prefix="stratamake-community-bench-", dir=os.environ.get("BENCH_DIR", "/var/tmp"))
    data = os.path.join(work, "data")
    env = dict(os.environ, STRATAMAKE_DATA_DIR=data, STRATAMAKE_LOG="error")
    server = None
    results = {"rate_per_s": RATE, "seconds": SECONDS, "warmup_seconds": WARMUP, "queries": QUERIES}
    try:
        create_account(env)
        started = time.perf_counter()
        results["seeded"] = seed(data)
        results["seed_seconds"] = round(time.perf_counter() - started, 1)
        print(f"seeded in {results['seed_seconds']} s: {results['seeded']}", flush=True)

        results["reindex"] = reindex(env)
        print(f"reindex: {results['reindex']}", flush=True)

        queries = make_queries(Vocabulary())
        texts = [query for query, _ in queries]
        matches = [fts_match(query) for query in texts]
        baseline_db = os.path.join(work, "baseline.db")
        fts_documents, fts_seconds = build_fts_copy(data, baseline_db)
        results["fts_build"] = {"documents": fts_documents, "seconds": round(fts_seconds, 1)}
        fts_zero = fts_empty(baseline_db, matches)
        results["fts5"] = fts_load(baseline_db, matches)
        print(f"FTS5 baseline done: p99 {results['fts5']['p99_ms']:.2f} ms", flush=True)

        port = free_port()
        server = start_server(env, port)
        sample = get_json(port, search_path("dragon"))
        if not sample["items"] or sample["indexing"]:
            sys.exit(f"search for 'dragon' found {sample['total']} (indexing: {sample['indexing']})")
        ours_zero = ours_empty(port, texts)
        results["search"] = http_load(server, port, [search_path(query) for query in texts])
        print(f"search done: p99 {results['search']['p99_ms']:.2f} ms", flush=True)
        token = login(port)
        if not get_json(port, "/api/v1/feed?kind=following", token)["items"]:
            sys.exit("the following feed of bench is empty")
        for kind in ("latest", "trending", "following"):
            results[f"feed_{kind}"] = http_load(server, port, [f"/api/v1/feed?kind={kind}"], token)
            print(f"feed {kind} done: p99 {results[f'feed_{kind}']['p99_ms']:.2f} ms", flush=True)
    finally:
        if server:
            stop(server)
        shutil.rmtree(work, ignore_errors=True)

    typos = [typo for _, typo in queries]
    results["zero_hits"] = {
        "ours": sum(ours_zero), "fts5": sum(fts_zero),
        "ours_typo_queries": sum(z for z, t in zip(ours_zero, typos) if t),
        "fts5_typo_queries": sum(z for z, t in zip(fts_zero, typos) if t),
        "typo_queries": sum(typos)}
    results["ratio_p50"] = results["search"]["p50_ms"] / results["fts5"]["p50_ms"]
    results["ratio_p99"] = results["search"]["p99_ms"] / results["fts5"]["p99_ms"]
    results["total_seconds"] = round(time.perf_counter() - began, 1)

    print(f"\n{RATE} requests/s open loop, {SECONDS} s measured after {WARMUP} s warm-up, "
          f"latency from the scheduled send time; {QUERIES} queries")
    print_latency("search (ours, HTTP)", results["search"])
    print_latency("search (FTS5, in-proc)", results["fts5"])
    for kind in ("latest", "trending", "following"):
        print_latency(f"feed {kind}", results[f"feed_{kind}"])
    print(f"ratio ours / FTS5: p50 {results['ratio_p50']:.2f}, p99 {results['ratio_p99']:.2f} "
          "(the baseline runs in-process: no HTTP, JSON or visibility checks, so the ratio favours it)")
    zero = results["zero_hits"]
    print(f"queries with no hit: ours {zero['ours']}, FTS5 {zero['fts5']} (of the {zero['typo_queries']} with a "
          f"typo: ours {zero['ours_typo_queries']}, FTS5 {zero['fts5_typo_queries']})")
    reindexed = results["reindex"]
    print(f"reindex: {reindexed['documents']} documents (posts, people, tags) in {reindexed['seconds']} s = "
          f"{reindexed['documents_per_s']} documents/s; FTS5 build of {fts_documents} posts: {fts_seconds:.1f} s")
    worst = max(results[key]["p99_ms"] for key in ("search", "feed_latest", "feed_trending", "feed_following"))
    print(f"target: search and feed p99 under {TARGET_P99_MS} ms: {'met' if worst < TARGET_P99_MS else 'NOT met'} "
          f"(worst p99 {worst:.2f} ms)")
    busy = {name: figures["other_cpu_percent"] for name, figures in results.items()
            if isinstance(figures, dict) and figures.get("other_cpu_percent", 0) > BUSY_PERCENT}
    if busy:
        print(f"WARNING: other processes used CPU during these runs (% of one core): {busy}; the figures are unreliable")
    print(f"took {results['total_seconds']} s")
    print(json.dumps(results, sort_keys=True))


if __name__ == "__main__":
    main()
