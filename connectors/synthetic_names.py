"""Names for the synthetic city's residents: Han surnames by frequency, Hui surnames, Tibetan
two-part names, Yi clan names, and the common names that many people share (张伟, 王芳)."""

from __future__ import annotations

import random

from connectors.synthetic_noise import MIDDLE_DOT

SURNAMES = ("王李张刘陈杨黄赵吴周" * 6 + "徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹" * 3
            + "彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊"
            "秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵严覃武戴")
HUI_SURNAMES = "马马马白哈穆纳丁"
GIVEN = {"男": "伟强磊军勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆帅旭宁龙林阳建国峰成兴福贵"
              "志文博轩晨然子德安",
         "女": "芳娜敏静丽艳娟霞秀玲桂英华梅琳雪婷倩颖兰凤琴萍红洁燕欣怡佳思涵萱雨琪月莉慧珍玉"}
TIBETAN = {"男": "扎西 次仁 多吉 尼玛 格桑 泽仁 达瓦 洛桑 平措 旺堆".split(),
           "女": "措姆 拉姆 卓玛 央金 德吉 央宗 白玛 曲珍 次仁 格桑".split()}
YI_CLANS = "沙马 吉克 俄底 海来 阿木 马海 阿苏 曲比 吉伍 勒格".split()
YI_GIVEN = {"男": "木呷 拉哈 尔古 石者 日格 伍呷".split(),
            "女": "伍各 阿衣 阿呷 阿果 尔果 莫色".split()}
COMMON_NAMES = (("张伟", "男"), ("王伟", "男"), ("王芳", "女"), ("李娜", "女"), ("刘洋", "男"),
                ("李静", "女"), ("张敏", "女"), ("李强", "男"), ("张磊", "男"), ("刘伟", "男"))
ETHNICITIES = (("汉族", 0.895), ("藏族", 0.05), ("彝族", 0.04), ("回族", 0.015))


def given_name(rng: random.Random, sex: str, first: str = "") -> str:
    """One or two characters; a twin's starts with the character the twins share."""
    pool = GIVEN[sex]
    if first:
        return first + rng.choice(pool)
    return "".join(rng.choices(pool, k=1 if rng.random() < 0.33 else 2))


def full_name(rng: random.Random, sex: str, ethnicity: str, family: str) -> str:
    """A name fitting sex and ethnic group; Tibetan and Yi ones sometimes with a dot."""
    if ethnicity == "藏族":
        first, second = rng.sample(TIBETAN[sex], 2)
    elif ethnicity == "彝族":
        first, second = family, rng.choice(YI_GIVEN[sex])
    else:
        return family + given_name(rng, sex)
    return first + (MIDDLE_DOT if rng.random() < 0.3 else "") + second


def family_name(rng: random.Random, ethnicity: str) -> str:
    """The surname or clan name passed to the children ("" for Tibetan names)."""
    if ethnicity == "彝族":
        return rng.choice(YI_CLANS)
    if ethnicity == "回族" and rng.random() < 0.7:
        return rng.choice(HUI_SURNAMES)
    return "" if ethnicity == "藏族" else rng.choice(SURNAMES)


def twin_name(rng: random.Random, first: str, family: str, ethnicity: str, sex: str,
              first_sex: str) -> tuple[str, str]:
    """New names for twins: (the first twin's, the second's), similar (胡国强, 胡国富), never
    the same; a Tibetan or Yi first twin keeps their name."""
    if ethnicity in ("藏族", "彝族"):
        pool = TIBETAN[sex] if ethnicity == "藏族" else YI_GIVEN[sex]
        return first, first[:-2] + rng.choice([p for p in pool if not first.endswith(p)])
    shared = rng.choice(GIVEN[first_sex])
    first = family + given_name(rng, first_sex, shared)
    second = first
    while second == first:
        second = family + given_name(rng, sex, shared)
    return first, second
