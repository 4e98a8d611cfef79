"""Pure normalisation of names and Chinese numerals for identity resolution (no I/O).

Addresses and grid assignment live in streams.normalize_address. Dates, ID numbers, sexes and
phones are parsed by connectors.fields and are not redone here.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache

import opencc
from pypinyin import Style, lazy_pinyin

MIDDLE_DOT = "\u00b7"
# Separators typed inside minority names (阿依古丽·买买提): after NFKC the full-width ．and the
# one-dot leader become ".", the half-width katakana ･ becomes ・ and the Greek ano teleia ·.
_DOTS = ".\u2022\u2027\u2219\u22c5\u30fb\u318d\u00b7"
_DOT_MAP = str.maketrans(dict.fromkeys(_DOTS, MIDDLE_DOT))

# Surnames whose reading differs from the character's everyday one. pypinyin (0.55) has no
# surname mode (its issues #120 and #297 are still open), so the first character is looked up here.
SURNAME_PINYIN: dict[str, str] = {
    "单": "shan", "曾": "zeng", "解": "xie", "仇": "qiu", "查": "zha", "朴": "piao", "区": "ou",
    "盖": "ge", "翟": "zhai", "覃": "qin", "缪": "miao", "秘": "bi", "阚": "kan",
    "种": "chong", "员": "yun", "贠": "yun", "繁": "po", "蕃": "pi", "召": "shao", "隗": "wei",
    "句": "gou", "尉": "wei", "都": "du", "能": "nai", "佴": "nai", "薄": "bo", "折": "she",
    "藏": "zang", "六": "lu", "盛": "sheng", "乜": "nie", "重": "chong", "洗": "xian",
    "黑": "he", "祭": "zhai", "訾": "zi", "眭": "sui", "莘": "shen", "颉": "xie", "炅": "gui",
    "贲": "ben", "褚": "chu", "厍": "she", "逄": "pang", "长": "chang", "沈": "shen",
    "万俟": "moqi", "尉迟": "yuchi", "长孙": "zhangsun", "澹台": "tantai", "乐正": "yuezheng",
    "子车": "ziju", "仉督": "zhangdu", "闾丘": "lvqiu", "令狐": "linghu", "欧阳": "ouyang",
    "上官": "shangguan", "司马": "sima", "诸葛": "zhuge", "皇甫": "huangfu", "夏侯": "xiahou",
    "东方": "dongfang", "慕容": "murong", "公孙": "gongsun", "宇文": "yuwen", "轩辕": "xuanyuan",
    "端木": "duanmu", "钟离": "zhongli", "濮阳": "puyang", "淳于": "chunyu", "申屠": "shentu",
    "司徒": "situ", "司空": "sikong", "南宫": "nangong", "呼延": "huyan", "赫连": "helian",
    "拓跋": "tuoba", "亓官": "qiguan", "百里": "baili", "西门": "ximen", "第五": "diwu",
}  # fmt: skip

_CN_DIGITS = "零一二三四五六七八九"
_CN_VALUE = {c: i for i, c in enumerate(_CN_DIGITS)} | {"〇": 0, "两": 2}
_CN_UNIT = {"十": 10, "百": 100, "千": 1000}
CHINESE_NUMERAL = f"[{_CN_DIGITS}〇两十百千]+"


@cache
def _t2s_converter() -> opencc.OpenCC:
    """Build OpenCC once, on first use: loading its dictionaries is the costly part."""
    return opencc.OpenCC("t2s")


def _strip_invisible(text: str) -> str:
    """Drop whitespace of every kind and invisible format/control characters (ZWSP, BOM). Every
    such character but the space is unprintable, so the text most often given is passed as it
    is, without a look at each character (a fifth of `features_of` under cProfile)."""
    if text.isprintable() and " " not in text:
        return text
    return "".join(
        c for c in text if not c.isspace() and unicodedata.category(c) not in ("Cc", "Cf")
    )


def clean_text(text: str) -> str:
    """NFKC (full-width to half-width), no whitespace, simplified characters: one spelling."""
    for _ in range(4):  # each step can expose work for another (NFKC of ¨ yields a space)
        cleaned = _t2s_converter().convert(
            _strip_invisible(unicodedata.normalize("NFKC", _strip_invisible(text)))
        )
        if cleaned == text:
            break
        text = cleaned
    return text


def normalize_name(text: str | None) -> str | None:
    """One spelling per name (spaces, 陳/陈, full-width, dot variants) so that names compare."""
    if text is None:
        return None
    name = clean_text(text).translate(_DOT_MAP)
    name = re.sub(f"{MIDDLE_DOT}+", MIDDLE_DOT, name).strip(MIDDLE_DOT)
    return name or None


def _latin(chars: str) -> list[str]:
    """Keep letters and digits of non-Han parts of a name (lower case), drop punctuation."""
    return [c.lower() for c in chars if c.isascii() and c.isalnum()]


def _pinyin(text: str) -> str:
    """Toneless pinyin of text, with pypinyin's phrase readings, as one lower-case string."""
    if not text:
        return ""
    return "".join(lazy_pinyin(text, style=Style.NORMAL, errors=_latin))


@lru_cache(maxsize=1 << 16)  # names repeat across a resident's records and every re-merge
def name_pinyin(name: str | None) -> str:
    """Toneless pinyin, surname read as a surname (曾 zeng, 单 shan), so homophones meet."""
    norm = normalize_name(name)
    if norm is None:
        return ""
    if MIDDLE_DOT in norm:  # a transliterated name (卓玛·次仁): there is no Han surname to read
        return _pinyin(norm)
    if len(norm) >= 3 and norm[:2] in SURNAME_PINYIN:
        return SURNAME_PINYIN[norm[:2]] + _pinyin(norm[2:])
    if norm[0] in SURNAME_PINYIN:
        return SURNAME_PINYIN[norm[0]] + _pinyin(norm[1:])
    return _pinyin(norm)


def name_key(name: str | None) -> str | None:
    """Blocking key for a name: its pinyin (伟/玮 and 陳/陈 meet); None when there is no name."""
    return name_pinyin(name) or None


def to_chinese_numeral(number: int) -> str:
    """Write 1..999 the way addresses do (三, 十二, 二十, 一百零五): for tests and display."""
    if not 0 <= number <= 999:
        raise ValueError(f"only 0..999 are written in Chinese here, not {number}")
    if number < 10:
        return _CN_DIGITS[number]
    hundreds, tens, ones = number // 100, number // 10 % 10, number % 10
    text = f"{_CN_DIGITS[hundreds]}百" if hundreds else ""
    if tens:
        text += ("" if tens == 1 and not hundreds else _CN_DIGITS[tens]) + "十"
    elif hundreds and ones:
        text += "零"
    return text + (_CN_DIGITS[ones] if ones else "")


def parse_numeral(text: str) -> int | None:
    """Read 12, 十二, 一十二, 一二, 两, 一百零五 as an int; None when it is not a numeral."""
    if text.isascii() and text.isdigit():
        return int(text)
    if not text or any(c not in _CN_VALUE and c not in _CN_UNIT for c in text):
        return None
    total, current, last_unit = 0, 0, 10_000
    for char in text:
        if char in _CN_UNIT:
            unit = _CN_UNIT[char]
            if unit >= last_unit:  # 十百: not a number
                return None
            total, current, last_unit = total + (current or 1) * unit, 0, unit
        else:
            current = current * 10 + _CN_VALUE[char]  # 一二 = 12 read digit by digit
    return total + current
