#!/usr/bin/env python3
"""Record reference CLIP token ids for the Rust tokenizer's tests.

Writes ``tests/fixtures/diffusion/tokenizer.json``: an object with a ``note``
and a list of ``cases`` ({"text", "ids"}), each ``ids`` being the 77
``input_ids`` that Hugging Face's slow ``transformers.CLIPTokenizer`` returns
when called the way Stable Diffusion pipelines call it::

    tokenizer(text, padding="max_length", max_length=77, truncation=True)

``sd2_cases`` holds a few prompts encoded by the same tokenizer configured like
Stable Diffusion 2.x exports (``pad_token="!"``, id 0).

The reference must run WITHOUT ``ftfy`` installed: CLIPTokenizer then cleans
text with its BasicTokenizer fallback (control-character removal, whitespace
cleanup, spaces around CJK ideographs, NFC, lowercasing) instead of
``ftfy.fix_text``. The script refuses to run if ftfy is importable.

Requirements: ``transformers<5`` (v5 replaced the Python CLIPTokenizer with a
``tokenizers``-backed one that normalises differently). No torch needed.

Usage: make_tokenizer_fixtures.py [--tokenizer DIR] [--out FILE]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
DEFAULT_TOKENIZER = os.path.join(REPO, "models", "tiny-sd", "tokenizer")
DEFAULT_OUT = os.path.join(REPO, "tests", "fixtures", "diffusion", "tokenizer.json")
MAX_LENGTH = 77


def long_prompt() -> str:
    """A 120-word prompt, far beyond the 75 tokens that fit."""
    words = (
        "a breathtaking panoramic view of an ancient city built on floating islands "
        "above a sea of clouds at golden hour with waterfalls cascading from the edges "
        "into the mist below while airships with patched canvas sails drift between "
        "towers of white stone covered in ivy and glowing lanterns and tiny figures "
        "crossing rope bridges highly detailed digital painting by a master of "
        "fantasy art with dramatic volumetric lighting soft shadows rich saturated "
        "colors intricate architecture and a sense of wonder sharp focus wide angle "
        "lens cinematic composition octane render unreal engine trending on "
        "artstation award winning concept art for a film about explorers who "
        "discover a forgotten kingdom hidden in the sky where dragons nest among the "
        "spires at dawn"
    ).split()
    assert len(words) == 120, len(words)
    return " ".join(words)


CASES: list[str] = [
    # empty and plain prompts
    "",
    "a photo of a cat",
    "A photograph of an astronaut riding a horse",
    "masterpiece, best quality, ultra-detailed, 8k, trending on artstation",
    "portrait of a woman, oil painting, by rembrandt",
    # case
    "A PHOTO OF A CAT IN THE STYLE OF VAN GOGH",
    "MiXeD CaSe WoRdS",
    # punctuation runs
    "!!!",
    "...",
    "a,b;c",
    "wow!!! really?!?",
    "--- *** ~~~ ___",
    "C++ & C# | email@example.com",
    "https://example.com/path?q=1&x=2",
    # apostrophes and contractions
    "don't",
    "it's",
    "we'll",
    "they're I'm you've he'd can't",
    "DON'T STOP IT'S",
    "rock'n'roll 'quoted'",
    "it\u2019s curly \u2018quotes\u2019",
    "it'\u017f",  # long s: the reference's case-insensitive 's also matches 'ſ
    # numbers
    "1920x1080",
    "3.14",
    "2024-01-01 12:30, 100%",
    "12345678901234567890",
    "\u00bd \u00b2 \u0663 \u216b",  # ½ ² ٣ Ⅻ (No, No, Nd, Nl)
    # accented latin, german
    "caf\u00e9 cr\u00e8me",
    "na\u00efve",
    "cafe\u0301",  # decomposed e + combining acute: NFC composes it
    "\u00c5ngstr\u00f6m \u00c9COLE",
    "Stra\u00dfe STRASSE \u1e9e",
    "\u0130stanbul",  # dotted capital I lowercases to i + combining dot
    # CJK and other scripts
    "\u6771\u4eac\u306e\u591c\u666f",  # 東京の夜景
    "\u5317\u4eac\u70e4\u9e2d",  # 北京烤鸭
    "\u3400\u4e00 \uf900 \U00020000",  # ext A, unified, compatibility ideograph, ext B
    "\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8",  # 한국어 텍스트
    "\u30ab\u30bf\u30ab\u30ca \u3072\u3089\u304c\u306a",  # カタカナ ひらがな
    "\ufb01ne \uff26\uff35\uff2c\uff2c\uff37\uff29\uff24\uff34\uff28",  # ﬁ ligature, fullwidth
    "\U0001d401\U0001d428\U0001d425\U0001d41d \u24b6\u24d1",  # math bold, circled letters
    "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645",  # Arabic
    "\u05e9\u05dc\u05d5\u05dd",  # Hebrew
    "\u041f\u0420\u0418\u0412\u0415\u0422 \u043c\u0438\u0440",  # Cyrillic
    "\u03a3\u0391\u03a3 \u039f\u0394\u039f\u03a3. \u03a3",  # Greek final sigma
    "\u0928\u092e\u0938\u094d\u0924\u0947",  # Devanagari with marks
    # emoji
    "\U0001f525 fire \U0001f431",
    "\U0001f468\u200d\U0001f469\u200d\U0001f467 family",  # ZWJ (Cf) is removed
    "\u2764\ufe0f love \U0001f1ef\U0001f1f5",  # variation selector kept, flag
    "\U0001fae0 melting",  # Unicode 14 emoji
    # combining characters
    "x\u0301y",
    "a\u0345b",  # ypogegrammeni: matched by no branch of the reference pattern
    "e\u0301\u0302 o\u0308\u0304",
    "Z\u0324\u0354\u0367\u0311\u0313a\u0308\u0356\u032d\u0308\u0307lgo",
    # whitespace and invisible/control characters
    "  leading and trailing  ",
    "tabs\tand\nnewlines\r\nand   multiple   spaces",
    "no\u00a0break\u3000ideographic\u2003em",
    "zero\u200bwidth soft\u00adhyphen \ufeffbom",
    "line\u2028separator para\u2029separator",
    "bell\x07 nul\x00 vt\x0bff\x0c esc\x1b del\x7f nel\x85",
    "replacement\ufffdchar private\ue000use unassigned\u0378cp",
    "\u212b \u01c4 \u01c5 \u0149 \ufb00",  # angstrom sign (NFC -> Å), DŽ digraphs, ŉ, ﬀ
    # HTML entities and markup (not unescaped without ftfy)
    "&amp;",
    "&lt;tag&gt;",
    "Tom &amp; Jerry &#39;quoted&#39;",
    "<b>bold</b>",
    # prompt-weighting syntax people type
    "(masterpiece:1.2), [blue]",
    "((best quality)), {red hair}, <lora:foo_bar:0.8>",
    "embedding:easynegative, (worst quality:1.4), lowres",
    "a cat AND a dog | BREAK",
    # length limits
    long_prompt(),
    " ".join(["a"] * 75),  # exactly fills the 75 content slots
    " ".join(["a"] * 76),  # one too many
    "pneumonoultramicroscopicsilicovolcanoconiosissupercalifragilisticexpialidocious",
    "abcdefghijklmnopqrstuvwxyz" * 3,
    # special tokens inside text
    "<|endoftext|>",
    "hello <|endoftext|> world",
    "x<|endoftext|>y",
    "<|startoftext|>hi",
    "<|ENDOFTEXT|> <|StartOfText|>",
    "!!<|endoftext|>",
    "!!<|ENDOFTEXT|>",
    "<|<|endoftext|>",
    "<|endoftext|",
    "<|\u017ftartoftext|>",
]

SD2_CASES: list[str] = [
    "",
    "a photo of a cat",
    "wow!!!",
    "hello, world! !",
    "(masterpiece:1.2)!, <|endoftext|>!",
]


def render(doc: dict) -> str:
    """JSON with one case per line, so diffs of the fixture stay readable."""
    dumps = lambda value: json.dumps(value, ensure_ascii=False)  # noqa: E731
    parts = ["{\n", f' "note": {dumps(doc["note"])}']
    for key in ("cases", "sd2_cases"):
        rows = ",\n".join(f"  {dumps(case)}" for case in doc[key])
        parts.append(f',\n "{key}": [\n{rows}\n ]')
    parts.append("\n}\n")
    text = "".join(parts)
    assert json.loads(text) == doc
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokenizer", default=DEFAULT_TOKENIZER, help="dir with vocab.json + merges.txt")
    parser.add_argument("--out", default=DEFAULT_OUT)
    args = parser.parse_args()

    if importlib.util.find_spec("ftfy") is not None:
        sys.exit("ftfy is installed: uninstall it, these fixtures record the no-ftfy behaviour")

    import transformers
    from transformers import CLIPTokenizer

    if int(transformers.__version__.split(".")[0]) >= 5:
        sys.exit("need transformers<5 (the Python CLIPTokenizer)")

    vocab = os.path.join(args.tokenizer, "vocab.json")
    merges = os.path.join(args.tokenizer, "merges.txt")
    sd1 = CLIPTokenizer(vocab, merges)
    sd2 = CLIPTokenizer(vocab, merges, pad_token="!")
    assert sd1.fix_text is None, "CLIPTokenizer picked up ftfy"
    assert sd1.pad_token_id == 49407 and sd2.pad_token_id == 0

    def encode(tok, text: str) -> list[int]:
        ids = tok(text, padding="max_length", max_length=MAX_LENGTH, truncation=True).input_ids
        assert len(ids) == MAX_LENGTH and ids[0] == 49406
        return [int(i) for i in ids]

    if len(set(CASES)) != len(CASES):
        sys.exit("duplicate case")
    cases = [{"text": text, "ids": encode(sd1, text)} for text in CASES]
    sd2_cases = [{"text": text, "ids": encode(sd2, text)} for text in SD2_CASES]

    truncated = next(c for c in cases if c["text"] == long_prompt())
    assert truncated["ids"][76] == 49407 and 49407 not in truncated["ids"][:76]

    note = (
        f"Reference: transformers {transformers.__version__} slow CLIPTokenizer(vocab.json, merges.txt) "
        "WITHOUT ftfy installed, so text goes through its BasicTokenizer fallback "
        "(drop NUL/U+FFFD/category C* except tab/newline/CR; tab/newline/CR/Zs -> space; "
        "spaces around CJK ideographs; NFC; split on whitespace; lowercase; join with one space) "
        "and HTML entities are NOT unescaped. Called as tokenizer(text, padding='max_length', "
        "max_length=77, truncation=True).input_ids; 'cases' pad with <|endoftext|> (49407, SD1), "
        "'sd2_cases' use pad_token='!' (id 0, SD2 exports), which also makes '!' an unsplittable "
        f"added token. Python {sys.version.split()[0]}, unicodedata {unicodedata.unidata_version}. "
        "Generated by models/scripts/make_tokenizer_fixtures.py."
    )
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as handle:
        handle.write(render({"note": note, "cases": cases, "sd2_cases": sd2_cases}))
    print(f"wrote {len(cases)} cases + {len(sd2_cases)} sd2 cases to {args.out}")


if __name__ == "__main__":
    main()
