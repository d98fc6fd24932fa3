#!/usr/bin/env python3
"""A seeded generator of realistic synthetic orders for the default Tmall-style policy.

Standard library only. Every order validates against ``schemas/order.schema.json``
and follows the facts described in ``docs/specification.md`` §2 (consistent timestamps, money
that adds up, unique skus). The corpus is built to cross every guarantee's
window, cap and version date, so it is useful for impact analysis (decide the
same corpus with two policies and compare), benchmarks and fuzzing.

As a module::

    from generate import generate, dumps
    for order in generate(2000, seed=7):   # plain dicts: Decimal money, int counts, RFC 3339 strings
        ...

As a script::

    python examples/corpus/generate.py --count 20000 --seed 1 --out corpus.jsonl

Same seed, same orders, byte for byte: all randomness comes from one
``random.Random(seed)``; nothing reads the clock or depends on hash order.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Iterable, Iterator, Sequence
from decimal import ROUND_HALF_UP, Decimal
from json.encoder import encode_basestring
from random import Random
from typing import Any, TextIO, TypeVar

__all__ = ["VERSION_DATES", "dumps", "generate", "main", "write_jsonl"]

T = TypeVar("T")
SH = dt.timezone(dt.timedelta(hours=8))
UTC = dt.UTC
CENT = Decimal("0.01")
ZERO = Decimal("0.00")

# The instants where a rule version changes (docs/specification.md §1.4): each keys on paid_at.
VERSION_DATES: dict[str, dt.datetime] = {
    "tmall_global_ninefold": dt.datetime(2018, 1, 11, tzinfo=SH),
    "stock_out_self_admission": dt.datetime(2026, 4, 9, tzinfo=SH),
    "delivery_install_appliance_amount": dt.datetime(2026, 5, 25, tzinfo=SH),
    "not_as_described_window": dt.datetime(2026, 7, 14, 19, 0, tzinfo=SH),
}
RANGE_START = dt.datetime(2017, 12, 1, 8, 0, tzinfo=SH)
RANGE_END = dt.datetime(2026, 11, 30, 22, 0, tzinfo=SH)
NAD_CHANGE = VERSION_DATES["not_as_described_window"]

CLAIM_TYPES = (
    "no_reason_return",
    "no_reason_exchange",
    "quality_issue",
    "damaged_on_arrival",
    "counterfeit",
    "not_as_described",
    "price_drop",
    "installation_issue",
    "trade_in",
    "repair",
)
RETURN_TYPES = ("no_reason_return", "quality_issue", "damaged_on_arrival", "counterfeit", "not_as_described")
CLAIM_PREFIX = {
    "no_reason_return": "RF",
    "no_reason_exchange": "EX",
    "quality_issue": "QA",
    "damaged_on_arrival": "DM",
    "counterfeit": "CF",
    "not_as_described": "ND",
    "price_drop": "JB",
    "installation_issue": "AZ",
    "trade_in": "HX",
    "repair": "WX",
}

# --------------------------------------------------------------------------------------------
# Catalogue: themes (a shop's line of business), brands and products.
# A product is (category, title, lowest price, highest price, variants, quantity range).
# --------------------------------------------------------------------------------------------

SIZES = ("S", "M", "L", "XL")
SHOE_SIZES = ("38码", "39码", "40码", "41码", "42码", "43码")
COLOURS = ("黑色", "白色", "燕麦灰", "藏青", "雾霾蓝", "酒红")
STORAGE = ("8GB+128GB", "12GB+256GB", "16GB+512GB")


def _v(*parts: tuple[str, ...]) -> tuple[str, ...]:
    """Variant labels: the cross product of the parts, in order."""
    out = [""]
    for part in parts:
        out = [f"{a} {b}".strip() for a in out for b in part]
    return tuple(out)


THEMES: tuple[dict[str, Any], ...] = (
    {
        "key": "fashion",
        "word": "服饰",
        "brands": (("简衣", "JY", "jianyi"), ("疾风", "JF", "jifeng"), ("暖橙", "NC", "nuancheng"), ("森屿", "SY", "senyu")),
        "products": (
            ("apparel", "纯棉圆领基础短袖T恤", 39, 99, _v(COLOURS[:3], SIZES), (1, 3)),
            ("apparel", "羊毛针织围巾", 99, 299, _v(COLOURS), None),
            ("apparel", "轻薄连帽羽绒服 男款", 299, 899, _v(COLOURS[:4], SIZES), None),
            ("apparel", "高腰直筒牛仔裤 女款", 129, 299, _v(("浅蓝", "深蓝"), ("26", "27", "28", "29")), None),
            ("apparel", "桑蚕丝长袖衬衫 女款", 299, 799, _v(("白色", "香槟"), SIZES), None),
            ("shoes_bags", "轻量缓震跑步鞋", 199, 699, _v(("黑白", "灰绿"), SHOE_SIZES), None),
            ("shoes_bags", "头层牛皮通勤托特包", 299, 1299, _v(("焦糖", "黑色")), None),
            ("shoes_bags", "帆布双肩包 15.6英寸", 89, 259, _v(COLOURS[:3]), None),
            ("underwear", "莫代尔无痕内裤 3条装", 59, 129, _v(SIZES), (1, 3)),
            ("underwear", "无钢圈舒适文胸", 99, 259, _v(("肤色", "黑色"), ("75B", "80B", "75C")), None),
            ("custom_goods", "刻字定制 纯棉情侣卫衣", 199, 399, _v(SIZES), None),
        ),
        "gifts": (("apparel", "【赠品】品牌帆布收纳袋"), ("apparel", "【赠品】运动速干袜 2双")),
    },
    {
        "key": "home_textiles",
        "word": "家纺",
        "brands": (("棉语", "MY", "mianyu"), ("眠悦", "MYU", "mianyue"), ("素筑", "SZ", "suzhu")),
        "products": (
            ("home_textiles", "A类纯棉四件套 1.8m床", 299, 999, _v(("雾霾蓝", "奶白", "豆沙粉")), None),
            ("home_textiles", "A类纯棉枕套一对装 48×74cm", 49, 129, _v(("雾霾蓝", "奶白")), (1, 2)),
            ("home_textiles", "新疆长绒棉方巾 3条装", 29, 69, ("",), (1, 4)),
            ("home_textiles", "桑蚕丝被 春秋被 200×230cm", 599, 2599, ("",), None),
            ("home_textiles", "天然乳胶枕 成人护颈", 199, 499, ("",), (1, 2)),
            ("custom_goods", "定制尺寸 全遮光窗帘", 399, 1999, _v(("米白", "深灰")), None),
        ),
        "gifts": (("home_textiles", "【赠品】纯棉洗脸巾 1包"),),
    },
    {
        "key": "beauty",
        "word": "美妆",
        "brands": (("清妍", "QY", "qingyan"), ("澜蔻", "LK", "lankou"), ("雪肌坊", "XJF", "xuejifang"), ("花漾", "HY", "huayang")),
        "products": (
            ("beauty", "氨基酸温和洁面乳 120g", 59, 159, ("",), (1, 3)),
            ("beauty", "修护精华面霜 50ml", 199, 1299, ("",), None),
            ("beauty", "玻尿酸补水面膜 10片", 79, 199, ("",), (1, 4)),
            ("beauty", "丝绒哑光口红", 129, 359, _v(("#316", "#999", "#888")), (1, 2)),
            ("beauty", "清透防晒乳 SPF50+ PA++++", 99, 299, ("",), (1, 2)),
            ("personal_care", "氨基酸洗发水 500ml", 49, 119, ("",), (1, 3)),
            ("personal_care", "香氛沐浴露 750ml", 39, 99, ("",), (1, 3)),
            ("personal_care", "乳木果护手霜礼盒 30ml×3", 59, 129, ("",), (1, 2)),
        ),
        "gifts": (("beauty", "【赠品】洁面乳 旅行装 30g"), ("beauty", "【赠品】精华小样 5ml×2")),
    },
    {
        "key": "food",
        "word": "食品",
        "brands": (("山野", "SHY", "shanye"), ("鲜到家", "XDJ", "xiandaojia"), ("老窖坊", "LJF", "laojiaofang"), ("谷语", "GY", "guyu")),
        "products": (
            ("food", "每日坚果 750g 30包", 99, 199, ("",), (1, 3)),
            ("food", "有机五常稻花香大米 5kg", 59, 139, ("",), (1, 3)),
            ("food", "冻干挂耳咖啡 50片", 79, 169, ("",), (1, 2)),
            ("food", "婴幼儿配方奶粉 3段 800g", 199, 459, ("",), (1, 4)),
            ("fresh_food", "鲜活大闸蟹 公4.0两 母3.0两 4对", 299, 999, ("",), None),
            ("fresh_food", "智利进口车厘子 JJ级 2kg", 199, 459, ("",), None),
            ("fresh_food", "原切西冷牛排 10片装", 159, 399, ("",), (1, 2)),
            ("fresh_food", "赣南脐橙 5kg 礼盒", 39, 89, ("",), (1, 3)),
            ("alcohol", "53度酱香型白酒 500ml", 299, 2999, ("",), (1, 2)),
            ("alcohol", "法国波尔多干红葡萄酒 750ml×2", 199, 899, ("",), None),
            ("alcohol", "精酿小麦啤酒 500ml×12罐", 89, 199, ("",), (1, 2)),
        ),
        "gifts": (("food", "【赠品】坚果试吃装 3包"), ("food", "【赠品】定制保温袋")),
    },
    {
        "key": "digital",
        "word": "数码",
        "brands": (("极光", "JG", "jiguang"), ("星驰", "XC", "xingchi"), ("声澜", "SL", "shenglan"), ("幻境", "HJ", "huanjing")),
        "products": (
            ("phone", "5G智能手机", 1999, 6999, _v(STORAGE, ("曜石黑", "雪域白")), None),
            ("phone", "折叠屏手机", 6999, 12999, _v(STORAGE[1:]), None),
            ("phone", "千元5G手机 长续航", 999, 1999, _v(STORAGE[:2]), None),
            ("computer", "14英寸轻薄笔记本电脑 i7 16G 1T", 3999, 8999, ("",), None),
            ("computer", "11英寸平板电脑 WiFi版", 1999, 4999, _v(("128GB", "256GB")), None),
            ("computer", "27英寸4K显示器", 1299, 3299, ("",), None),
            ("audio_video", "主动降噪真无线蓝牙耳机", 299, 1999, _v(("黑色", "白色")), None),
            ("audio_video", "家用智能投影仪 1080P", 1999, 5999, ("",), None),
            ("vr_devices", "VR一体机 128GB", 1999, 4999, ("",), None),
            ("digital_content", "正版办公软件 年度订阅 激活码", 298, 598, ("",), None),
            ("services", "手机碎屏意外保障服务 1年", 49, 199, ("",), None),
        ),
        "gifts": (("audio_video", "【赠品】Type-C快充数据线"), ("phone", "【赠品】钢化膜+保护壳套装")),
    },
    {
        "key": "appliance",
        "word": "电器",
        "brands": (("清风", "QF", "qingfeng"), ("厨悦", "CY", "chuyue"), ("雪域", "XY", "xueyu"), ("暖居", "NJ", "nuanju")),
        "products": (
            ("small_appliance", "家用空气净化器 除甲醛 CADR600", 899, 2999, ("",), None),
            ("small_appliance", "破壁料理机 1.75L", 399, 1299, ("",), None),
            ("small_appliance", "扫拖一体扫地机器人", 1499, 4999, ("",), None),
            ("small_appliance", "IH电饭煲 4L", 199, 899, ("",), None),
            ("small_appliance", "厨下式反渗透净水器 1000G", 1299, 3999, ("",), None),
            ("large_appliance", "对开门风冷无霜冰箱 540L", 2999, 9999, ("",), None),
            ("large_appliance", "滚筒洗衣机 10kg 洗烘一体", 1999, 6999, ("",), None),
            ("large_appliance", "1.5匹新一级能效变频空调挂机", 2199, 5999, ("",), None),
            ("large_appliance", "65英寸4K液晶电视", 2999, 9999, ("",), None),
            ("large_appliance", "嵌入式洗碗机 13套", 3499, 7999, ("",), None),
            ("services", "空调深度清洗上门服务", 99, 299, ("",), None),
        ),
        "gifts": (("small_appliance", "【赠品】滤芯 1支"), ("small_appliance", "【赠品】不锈钢保温杯")),
    },
    {
        "key": "home",
        "word": "家居",
        "brands": (("木里", "ML", "muli"), ("栖居", "QJ", "qiju"), ("匠作", "JZ", "jiangzuo"), ("石韵", "SYN", "shiyun")),
        "products": (
            ("furniture", "北欧实木餐桌 1.4m", 1299, 4999, _v(("原木色", "胡桃色")), None),
            ("furniture", "科技布沙发 三人位", 2999, 8999, _v(("浅灰", "奶咖")), None),
            ("furniture", "实木双人床 1.8m", 1999, 6999, ("",), None),
            ("furniture", "人体工学电脑椅", 599, 2499, ("",), None),
            ("building_materials", "智能马桶一体机 即热式", 1999, 5999, ("",), None),
            ("building_materials", "恒温淋浴花洒套装", 599, 1999, ("",), None),
            ("building_materials", "通体大板瓷砖 600×1200 每片", 89, 199, ("",), (8, 30)),
            ("building_materials", "指纹智能门锁", 999, 2999, ("",), None),
            ("custom_goods", "全屋定制衣柜 每延米", 1999, 5999, ("",), (1, 4)),
        ),
        "gifts": (("home_textiles", "【赠品】沙发靠垫 1个"), ("building_materials", "【赠品】安装配件包")),
    },
    {
        "key": "books",
        "word": "图书",
        "brands": (("书香", "SX", "shuxiang"), ("墨语", "MYY", "moyu")),
        "products": (
            ("books", "《三体》全集 典藏版", 68, 128, ("",), (1, 2)),
            ("books", "《人类简史》精装", 49, 89, ("",), (1, 2)),
            ("books", "儿童启蒙绘本 全20册", 99, 299, ("",), None),
            ("periodicals", "《读者》全年订阅 24期", 98, 198, ("",), None),
            ("periodicals", "《三联生活周刊》当期", 15, 30, ("",), (1, 3)),
            ("digital_content", "电子书会员 年卡", 98, 198, ("",), None),
            ("audio_video", "经典老歌 黑胶唱片 LP", 199, 499, ("",), None),
            ("audio_video", "自然纪录片 蓝光 BD 套装", 59, 199, ("",), None),
        ),
        "gifts": (("books", "【赠品】金属书签"), ("books", "【赠品】帆布书袋")),
    },
    {
        "key": "jewelry",
        "word": "珠宝",
        "brands": (("金缘", "JYU", "jinyuan"), ("珀丽", "PL", "poli")),
        "products": (
            ("jewelry_gold", "足金999古法手镯 约20g", 9999, 15999, ("",), None),
            ("jewelry_gold", "18K金钻石项链", 1999, 6999, ("",), None),
            ("jewelry_gold", "足金转运珠红绳手链", 599, 1999, ("",), None),
            ("jewelry_gold", "淡水珍珠耳钉", 399, 1299, ("",), None),
            ("custom_goods", "刻字定制 情侣对戒 银镀金", 999, 2999, ("",), None),
        ),
        "gifts": (("jewelry_gold", "【赠品】首饰收纳盒"),),
    },
    {
        "key": "pharmacy",
        "word": "医药",
        "brands": (("康宁", "KN", "kangning"), ("仁和堂", "RHT", "renhetang")),
        "products": (
            ("medicine", "布洛芬缓释胶囊 0.3g×24粒", 15, 39, ("",), (1, 3)),
            ("medicine", "复方感冒灵颗粒 14g×9袋", 15, 35, ("",), (1, 3)),
            ("medicine", "维生素D3软胶囊 60粒", 59, 159, ("",), (1, 3)),
            ("medicine", "家用上臂式电子血压计", 199, 499, ("",), None),
            ("personal_care", "医用冷敷贴 6贴", 39, 99, ("",), (1, 3)),
        ),
        "gifts": (("medicine", "【赠品】医用外科口罩 10只"),),
    },
    {
        "key": "toys",
        "word": "玩具",
        "brands": (("童趣", "TQ", "tongqu"), ("乐拼", "LP", "lepin")),
        "products": (
            ("toys", "拼装积木 城市消防局", 199, 999, ("",), None),
            ("toys", "遥控越野攀爬车 1:16", 159, 459, ("",), None),
            ("toys", "毛绒玩偶 40cm", 59, 199, ("",), (1, 2)),
            ("toys", "儿童平衡车 2-6岁", 199, 599, ("",), None),
            ("toys", "益智拼图 1000片", 49, 129, ("",), (1, 2)),
        ),
        "gifts": (("toys", "【赠品】贴纸套装"),),
    },
    {
        "key": "mobility",
        "word": "出行",
        "brands": (("驰远", "CYU", "chiyuan"), ("绿骑", "LQ", "lvqi")),
        "products": (
            ("vehicles", "新国标电动自行车 48V", 1999, 4999, ("",), None),
            ("vehicles", "折叠电动滑板车", 1499, 3999, ("",), None),
            ("vehicles", "电动摩托车 72V 长续航", 3999, 8999, ("",), None),
            ("services", "汽车小保养套餐 到店服务", 299, 999, ("",), None),
        ),
        "gifts": (("vehicles", "【赠品】骑行头盔"),),
    },
)
THEME = {t["key"]: t for t in THEMES}
BASE_THEME_WEIGHTS = {
    "fashion": 20, "home_textiles": 6, "beauty": 14, "food": 12, "digital": 12, "appliance": 10,
    "home": 7, "books": 5, "jewelry": 4, "pharmacy": 4, "toys": 4, "mobility": 2,
}  # fmt: skip
GLOBAL_THEMES = {"beauty": 30, "food": 20, "digital": 15, "fashion": 15, "toys": 8, "pharmacy": 7, "jewelry": 5}
# The themes that give a claim type its natural lines (otherwise the base weights apply).
CLAIM_THEMES: dict[str, dict[str, int]] = {
    "installation_issue": {"home": 45, "appliance": 45, "mobility": 5, "digital": 5},
    "trade_in": {"digital": 50, "appliance": 42, "fashion": 4, "beauty": 4},
    "repair": {"digital": 45, "appliance": 40, "home": 6, "mobility": 5, "fashion": 4},
    "counterfeit": {"beauty": 25, "fashion": 25, "jewelry": 15, "food": 15, "digital": 12, "pharmacy": 8},
}

CONFIRMATION_CATEGORIES = ("underwear", "medicine", "alcohol", "jewelry_gold", "vr_devices", "vehicles")
EXCLUDED_CATEGORIES = ("custom_goods", "fresh_food", "digital_content", "periodicals", "services")
INSTALL_CATEGORIES = ("furniture", "large_appliance", "building_materials")
TRADE_IN_CATEGORIES = ("phone", "computer", "small_appliance", "large_appliance")
WARRANTY = {
    "phone": (365, 730), "computer": (365, 730, 1095), "audio_video": (365,), "vr_devices": (365,),
    "small_appliance": (365, 730), "large_appliance": (365, 1095, 1825), "furniture": (365, 1095),
    "building_materials": (730, 1825), "vehicles": (365, 730), "medicine": (365,), "jewelry_gold": (365,),
}  # fmt: skip
WARRANTY_CHANCE = {
    "phone": 0.97, "computer": 0.97, "audio_video": 0.8, "vr_devices": 0.9, "small_appliance": 0.9,
    "large_appliance": 0.97, "furniture": 0.5, "building_materials": 0.6, "vehicles": 0.8, "medicine": 0.05,
    "jewelry_gold": 0.1,
}  # fmt: skip
NEEDS_INSTALL = {"furniture": 0.7, "large_appliance": 0.85, "building_materials": 0.65, "small_appliance": 0.12, "vehicles": 0.3}
LARGE = {"furniture": 0.85, "large_appliance": 0.95, "building_materials": 0.4, "vehicles": 0.6}

SHOP_TYPES = ("official_flagship", "tmall_global_direct", "flagship", "specialty", "franchise")
VERIFIED = {"official_flagship": 0.95, "tmall_global_direct": 0.95, "flagship": 0.85, "specialty": 0.75, "franchise": 0.65}
SERVICES = ("return_shipping_insurance", "price_protection", "after_sales_care", "delivery_install", "installation", "trade_in")
CITIES = ("杭州", "上海", "广州", "成都", "南京", "武汉", "苏州")
DISTRIBUTORS = (("优选", "youxuan"), ("惠购", "huigou"), ("汇品", "huipin"), ("鑫源", "xinyuan"), ("嘉禾", "jiahe"))
GLOBAL_WORDS = {
    "beauty": "美妆",
    "food": "食品",
    "digital": "数码",
    "fashion": "服饰",
    "toys": "母婴",
    "pharmacy": "保健",
    "jewelry": "珠宝",
}

PROMOTIONS = (
    (99, 10), (199, 20), (200, 30), (299, 40), (300, 50), (400, 60), (500, 80), (999, 120), (2000, 300), (5000, 600),
)  # fmt: skip
POSTAGE = (Decimal("6.00"), Decimal("8.00"), Decimal("10.00"), Decimal("12.00"), Decimal("15.00"), Decimal("20.00"))
FREE_SHIPPING_THRESHOLDS = (Decimal("49.00"), Decimal("59.00"), Decimal("68.00"), Decimal("88.00"), Decimal("99.00"), Decimal("199.00"))

CAMPAIGNS = (
    # (id stem, name template, (start month, day), (end month, day))
    ("double11", "{y}天猫双11全球狂欢节", (10, 20), (11, 11)),
    ("618", "{y}天猫618年中大促", (5, 20), (6, 18)),
    ("nianhuo", "{y}天猫年货节", (1, 5), (1, 20)),
    ("queen38", "{y}天猫38焕新节", (3, 1), (3, 8)),
    ("99sale", "{y}天猫99划算节", (9, 1), (9, 9)),
)

# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def money(value: Decimal | int | str) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def start_of_day(t: dt.datetime) -> dt.datetime:
    return t.astimezone(SH).replace(hour=0, minute=0, second=0, microsecond=0)


def window_end(start: dt.datetime, days: int) -> dt.datetime:
    """docs/specification.md §1.3: the first instant that is late for "within N days after start"."""
    return start_of_day(start) + dt.timedelta(days=days + 1)


def fmt_ts(t: dt.datetime, utc: bool = False) -> str:
    """RFC 3339 with an offset: +08:00 normally, ``Z`` when asked; fractions only when present."""
    t = t.astimezone(UTC if utc else SH)
    text = f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}"
    if t.microsecond:
        text += f".{t.microsecond:06d}".rstrip("0")
    return text + ("Z" if utc else "+08:00")


def has_seven_day_return(line: dict[str, Any]) -> bool:
    """Whether a line keeps 7-day no-reason return (docs/specification.md §4.3), to aim most no-reason claims at such lines."""
    flags = line["flags"]
    if line["gift"]:
        return False
    if "seven_day_opt_in" in flags:
        return True
    if line["category"] in EXCLUDED_CATEGORIES or "customized" in flags or "unsealed_media" in flags:
        return False
    return not (line["category"] in CONFIRMATION_CATEGORIES and "no_return_confirmed" in flags)


def hours(n: float) -> dt.timedelta:
    return dt.timedelta(hours=n)


def days(n: float) -> dt.timedelta:
    return dt.timedelta(days=n)


class _Gen:
    """One generator run: the random stream and the helpers that draw from it."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.rng = Random(seed)

    # -- draws -------------------------------------------------------------------------------

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def pick(self, seq: Sequence[T]) -> T:
        return seq[self.rng.randrange(len(seq))]

    def weighted(self, table: dict[str, float] | dict[str, int]) -> str:
        """A key drawn with probability proportional to its weight (keys in insertion order)."""
        r = self.rng.random() * sum(table.values())
        for key, weight in table.items():
            r -= weight
            if r < 0:
                return key
        return key

    def between(self, a: dt.datetime, b: dt.datetime) -> dt.datetime:
        """A whole-second instant in [a, b] (a when b <= a)."""
        span = int((b - a).total_seconds())
        return a + dt.timedelta(seconds=self.rng.randint(0, span)) if span > 0 else a

    def daytime(self, t: dt.datetime) -> dt.datetime:
        """Move an instant into 08:00–21:59 Shanghai time (couriers deliver by day); never earlier."""
        local = t.astimezone(SH)
        if 8 <= local.hour < 22:
            return t
        day = start_of_day(local) + (days(1) if local.hour >= 22 else dt.timedelta(0))
        return day + hours(8) + self.seconds(0, 4 * 3600)

    def seconds(self, lo: float, hi: float) -> dt.timedelta:
        return dt.timedelta(seconds=self.rng.randint(int(lo), int(hi)))

    def price(self, lo: int, hi: int) -> Decimal:
        """A shelf price: 39.00, 129.90, 1999.00 ..."""
        raw = self.rng.uniform(lo, hi)
        if raw < 100:
            value = Decimal(int(raw / 10) * 10 + 9) - (Decimal("0.10") if self.chance(0.5) else ZERO)
        elif raw < 1000:
            value = Decimal(int(raw / 10) * 10 + 9)
        else:
            value = Decimal(int(raw / 100) * 100 + 99) if self.chance(0.7) else Decimal(int(raw / 100) * 100)
        return money(max(value, Decimal(lo)))

    # -- the order ---------------------------------------------------------------------------

    def paid_at(self) -> tuple[dt.datetime, str | None]:
        """Spread over the whole range, denser near each version date (and around 双11)."""
        roll = self.rng.random()
        if roll < 0.5:
            near = self.pick(list(VERSION_DATES))
            boundary = VERSION_DATES[near]
            scale = self.rng.random()
            if scale < 0.12:
                offset = self.seconds(1, 600)  # minutes either side
            elif scale < 0.35:
                offset = self.seconds(600, 48 * 3600)
            else:
                offset = self.seconds(2 * 86400, 40 * 86400)
            paid = boundary - offset if self.chance(0.5) else boundary + offset - dt.timedelta(seconds=1)
            if scale < 0.03:
                paid = boundary if self.chance(0.5) else boundary - dt.timedelta(seconds=1)
            paid = min(max(paid, RANGE_START), RANGE_END)
            return paid, near
        if roll < 0.56:
            year = self.rng.randint(2018, 2025)
            day = dt.datetime(year, 11, 11, tzinfo=SH)
            return day + self.seconds(0, 3 * 3600 if self.chance(0.6) else 86399), None
        span = (RANGE_END - RANGE_START).total_seconds()
        u = self.rng.random() ** 0.6  # more recent orders than old ones
        return RANGE_START + dt.timedelta(seconds=int(u * span)), None

    def claim_type(self, near: str | None) -> str | None:
        if near == "tmall_global_ninefold" and self.chance(0.35):
            return "counterfeit"
        if near == "delivery_install_appliance_amount" and self.chance(0.35):
            return "installation_issue"
        if near == "not_as_described_window" and self.chance(0.4):
            return "not_as_described"
        if not self.chance(0.56):
            return None
        return self.weighted(
            {
                "no_reason_return": 22, "no_reason_exchange": 8, "quality_issue": 11, "damaged_on_arrival": 8,
                "counterfeit": 8, "not_as_described": 10, "price_drop": 10, "installation_issue": 8, "trade_in": 7,
                "repair": 8,
            }
        )  # fmt: skip

    def program(self, near: str | None, claim: str | None) -> str:
        if near == "tmall_global_ninefold" and self.chance(0.5):
            return "global"
        if claim in ("installation_issue", "trade_in", "repair"):
            return self.weighted({"standard": 80, "subsidy": 20})
        if claim == "counterfeit":
            return self.weighted({"standard": 45, "subsidy": 25, "global": 30})
        return self.weighted({"standard": 70, "subsidy": 15, "global": 15})

    def theme(self, program: str, claim: str | None, near: str | None) -> dict[str, Any]:
        if near == "delivery_install_appliance_amount" and (claim == "installation_issue" or self.chance(0.3)):
            return THEME["appliance" if self.chance(0.6) else "home"]  # the change concerns appliances
        if claim in ("installation_issue", "trade_in", "repair"):
            return THEME[self.weighted(CLAIM_THEMES[claim])]
        if program == "global":
            return THEME[self.weighted(GLOBAL_THEMES)]
        if claim == "counterfeit":
            return THEME[self.weighted(CLAIM_THEMES["counterfeit"])]
        return THEME[self.weighted(BASE_THEME_WEIGHTS)]

    def shop(self, theme: dict[str, Any], program: str, claim: str | None, near: str | None) -> tuple[dict[str, Any], str, str]:
        brand, code, pinyin = self.pick(theme["brands"])
        if program == "global":
            kind = self.weighted({"tmall_global_direct": 50, "flagship": 34, "specialty": 6, "franchise": 8, "official_flagship": 2})
        else:
            kind = self.weighted({"official_flagship": 22, "flagship": 38, "specialty": 20, "franchise": 18, "tmall_global_direct": 2})
        word = theme["word"]
        if kind == "official_flagship":
            name, shop_id = f"{brand}官方旗舰店", f"shop_{pinyin}_official"
        elif kind == "tmall_global_direct":
            name = f"天猫国际进口{GLOBAL_WORDS.get(theme['key'], word)}官方直营"
            shop_id = f"shop_tmall_global_direct_{theme['key']}"
        elif kind == "flagship":
            name = f"{brand}海外旗舰店" if program == "global" else f"{brand}{word}旗舰店"
            shop_id = f"shop_{pinyin}_flagship"
        elif kind == "specialty":
            city = self.pick(CITIES)
            name, shop_id = f"{brand}{city}专卖店", f"shop_{pinyin}_specialty_{CITIES.index(city)}"
        else:
            dist, dist_py = self.pick(DISTRIBUTORS)
            name = f"{dist}{'海外' if program == 'global' else ''}{word}专营店"
            shop_id = f"shop_{dist_py}_{theme['key']}_franchise"
        verified = self.chance(VERIFIED[kind])
        if claim == "counterfeit" and self.chance(0.15):
            verified = not verified  # more unverified shops among counterfeit claims: the law's floor
        key = theme["key"]
        goods = key in ("digital", "appliance")
        installs = key in ("home", "appliance")
        p = {
            "return_shipping_insurance": 0.45,
            "price_protection": 0.3 + (0.45 if claim == "price_drop" else 0.0),
            "after_sales_care": (0.5 if goods or key == "mobility" else 0.08) + (0.3 if claim == "repair" else 0.0),
            "delivery_install": (0.6 if installs else 0.03) + (0.25 if claim == "installation_issue" else 0.0),
            "installation": (0.5 if installs else 0.2 if key == "mobility" else 0.03) + (0.25 if claim == "installation_issue" else 0.0),
            "trade_in": (0.55 if goods else 0.02) + (0.3 if claim == "trade_in" else 0.0),
        }
        if near == "delivery_install_appliance_amount":
            p["delivery_install"] += 0.2
        if claim == "installation_issue":  # 送装一体, merchant-promised installation, both, or neither
            di = {"delivery_install": 45, "installation": 40, "both": 5, "neither": 10}
            if near == "delivery_install_appliance_amount":
                di["delivery_install"] = 80
            mode = self.weighted(di)
            p["delivery_install"] = 1.0 if mode in ("delivery_install", "both") else 0.0
            p["installation"] = 1.0 if mode in ("installation", "both") else 0.0
        services = [s for s in SERVICES if self.chance(p[s])]
        return {"id": shop_id, "name": name, "type": kind, "qualification_verified": verified, "services": services}, brand, code

    def buyer(self) -> dict[str, Any]:
        roll = self.rng.random()
        if roll < 0.12:
            score = self.pick((598, 599, 599, 600, 600, 601, 602))
        elif roll < 0.16:
            score = self.pick((350, 351, 949, 950))
        else:
            score = int(min(950, max(350, self.rng.normalvariate(690, 95))))
        counts = self.rng.choices((0, 1, 2, 3, 4, 5, 8), weights=(60, 10, 10, 10, 5, 3, 2))[0]
        return {
            "id": f"buyer_tb_{self.rng.randrange(20000000, 29999999)}",
            "credit_score": score,
            "abuse_flag": self.chance(0.05),
            "claims_last_30_days": {"not_as_described": counts},
        }

    def items(
        self, theme: dict[str, Any], program: str, brand: str, code: str, claim: str | None, services: list[str]
    ) -> list[dict[str, Any]]:
        products = theme["products"]
        n = self.rng.choices((1, 2, 3, 4), weights=(50, 28, 14, 8))[0]
        wanted = {
            "installation_issue": INSTALL_CATEGORIES + (() if "delivery_install" in services else ("small_appliance", "vehicles")),
            "trade_in": TRADE_IN_CATEGORIES,
            "repair": tuple(WARRANTY),
        }.get(claim or "")
        chosen: list[tuple[int, int]] = []
        for index in range(n):
            pool = list(range(len(products)))
            if index == 0 and wanted and self.chance(0.9):
                pool = [i for i in pool if products[i][0] in wanted] or pool
            for _ in range(6):
                p = self.pick(pool)
                v = self.rng.randrange(len(products[p][4]))
                if (p, v) not in chosen:
                    chosen.append((p, v))
                    break
        lines = []
        for p, v in chosen:
            category, title, lo, hi, variants, qty_range = products[p]
            unit = self.price(lo, hi)
            if qty_range:
                qty = self.rng.randint(*qty_range) if self.chance(0.6) else qty_range[0]
            elif unit < 300:
                qty = self.rng.choices((1, 2, 3), weights=(75, 20, 5))[0]
            else:
                qty = 1 if self.chance(0.95) else 2
            text = f"{brand} {title} {variants[v]}".strip()
            if program == "global":
                text = f"【天猫国际】{text} {self.pick(('保税仓发货', '海外直邮'))}"
            line: dict[str, Any] = {
                "sku": f"SKU-{code}-{category[:2].upper()}{p:02d}-{v + 1:02d}",
                "title": text,
                "category": category,
                "unit_price": unit,
                "quantity": qty,
                "paid_amount": unit * qty,
                "gift": False,
                "flags": self.flags(category, title, claim),
            }
            if category in WARRANTY and self.chance(WARRANTY_CHANCE[category] + (0.3 if claim == "repair" else 0.0)):
                line["warranty_days"] = self.pick(WARRANTY[category])
            lines.append(line)
        return lines

    def flags(self, category: str, title: str, claim: str | None) -> list[str]:
        flags = []
        engraved = "定制" in title and self.chance(0.8)
        if category == "custom_goods" or engraved or (category in ("apparel", "jewelry_gold") and self.chance(0.02)):
            flags.append("customized")
        if category in ("digital_content", "audio_video") and self.chance(0.3 if category == "digital_content" else 0.15):
            flags.append("unsealed_media")
        if category in CONFIRMATION_CATEGORIES and self.chance(0.6):
            flags.append("no_return_confirmed")
        elif category not in CONFIRMATION_CATEGORIES and self.chance(0.02):
            flags.append("no_return_confirmed")  # confirmed on a category the confirmation does not exclude
        excluded = category in EXCLUDED_CATEGORIES or "customized" in flags or "unsealed_media" in flags or "no_return_confirmed" in flags
        if (excluded and self.chance(0.15)) or self.chance(0.01):
            flags.append("seven_day_opt_in")
        install = NEEDS_INSTALL.get(category, 0.0)
        if self.chance(max(install, 0.9) if install and claim == "installation_issue" else install):
            flags.append("needs_installation")
        if self.chance(LARGE.get(category, 0.0)):
            flags.append("large")
        return flags

    def gift(self, theme: dict[str, Any], code: str) -> dict[str, Any]:
        index = self.rng.randrange(len(theme["gifts"]))
        category, title = theme["gifts"][index]
        return {
            "sku": f"SKU-{code}-GIFT-{index + 1:02d}",
            "title": title,
            "category": category,
            "unit_price": ZERO,
            "quantity": 1,
            "paid_amount": ZERO,
            "gift": True,
            "declared_gift_value": money(self.pick(("5.00", "9.90", "15.00", "19.90", "29.00", "39.00", "59.00", "99.00"))),
            "flags": [],
        }

    def discounts(self, lines: list[dict[str, Any]]) -> dict[str, Any] | None:
        """Line coupons (直降, 多件优惠), then an order 满减 spread over the lines by paid value."""
        for line in lines:
            if self.chance(0.25):
                factor = Decimal(str(self.rng.randint(80, 97))) / 100
                line["paid_amount"] = money(line["paid_amount"] * factor)
            elif line["quantity"] >= 3 and self.chance(0.3):  # "3件100元"
                line["paid_amount"] = max(money(int(line["paid_amount"] * Decimal("0.85") / 10) * 10), money(line["unit_price"]))
        list_value = sum((line["unit_price"] * line["quantity"] for line in lines), ZERO)
        paid_total = sum((line["paid_amount"] for line in lines), ZERO)
        if not self.chance(0.28):
            return None
        ladder = [(Decimal(t), Decimal(d)) for t, d in PROMOTIONS if Decimal(t) <= list_value and Decimal(d) * 2 < paid_total]
        if not ladder:
            return None
        # Mostly the highest step reached, so that a partial return often drops below it.
        threshold, discount = ladder[-1] if self.chance(0.7) else self.pick(ladder)
        remaining = discount
        for i, line in enumerate(lines):
            if i == len(lines) - 1:
                share = remaining
            else:
                share = money(discount * line["paid_amount"] / paid_total)
                remaining -= share
            line["paid_amount"] = money(line["paid_amount"] - share)
        return {"type": "threshold_discount", "threshold": money(threshold), "discount": money(discount)}

    def shipping(self, paid_total: Decimal, large: bool) -> dict[str, Any]:
        kind = self.weighted({"unconditional": 55, "conditional": 27, "none": 18} if not large else {"unconditional": 85, "none": 15})
        if kind == "unconditional":
            return {"fee": ZERO, "free_shipping": "unconditional"}
        postage = self.pick(POSTAGE) if not large else self.pick((Decimal("50.00"), Decimal("80.00"), Decimal("120.00")))
        if kind == "none":
            return {"fee": postage, "free_shipping": "none"}
        # Conditional: the threshold is set near the paid total, so partial returns cross it both ways.
        below = [t for t in FREE_SHIPPING_THRESHOLDS if t <= paid_total]
        if below and self.chance(0.85):
            threshold = below[-1] if self.chance(0.6) else self.pick(below)
            return {"fee": ZERO, "free_shipping": "conditional", "threshold": threshold, "waived_fee": postage}
        above = [t for t in FREE_SHIPPING_THRESHOLDS if t > paid_total] or [money(paid_total + 50)]
        # Not reached: the buyer paid the postage and nothing was waived.
        return {"fee": postage, "free_shipping": "conditional", "threshold": self.pick(above), "waived_fee": ZERO}

    def campaign(self, paid: dt.datetime) -> dict[str, Any] | None:
        local = paid.astimezone(SH)
        for stem, name, (m1, d1), (m2, d2) in CAMPAIGNS:
            start = dt.datetime(local.year, m1, d1, tzinfo=SH)
            end = dt.datetime(local.year, m2, d2, 23, 59, 59, tzinfo=SH)
            if start <= local <= end and self.chance(0.7):
                until = end + days(self.pick((0, 3, 7, 15)))
                return {"id": f"{stem}-{local.year}", "name": name.format(y=local.year), "price_protection_until": until}
        if self.chance(0.07):
            until = (start_of_day(paid) + days(self.rng.randint(7, 30))).replace(hour=23, minute=59, second=59)
            return {
                "id": f"brandday-{local.strftime('%Y%m%d')}",
                "name": f"天猫超级品牌日 {local.month}月{local.day}日",
                "price_protection_until": until,
            }
        return None

    def logistics(self, paid: dt.datetime, near: str | None, claim: str | None, large: bool) -> tuple[dict[str, Any], str]:
        """Shipping facts and the scenario name; times are datetimes, formatted later."""
        scenario_weights = {
            "on_time": 78, "late": 7, "stock_out": 4, "unshipped_late": 2.5, "unshipped_not_due": 1.5,
            "in_transit": 3, "refused": 2, "lost": 1,
        }  # fmt: skip
        if claim is not None:
            scenario_weights = {"on_time": 84, "late": 6, "in_transit": 3, "refused": 3, "lost": 1, "stock_out": 1.5, "unshipped_late": 1.5}
            if claim in ("installation_issue", "trade_in"):
                scenario_weights = {"on_time": 92, "late": 8}
        if near == "stock_out_self_admission" and claim is None and self.chance(0.45):
            scenario = "stock_out"
        else:
            scenario = self.weighted(scenario_weights)
        if scenario == "stock_out":
            promise = self.pick((24, 48, 48, 72, 96, 168))
        else:
            promise = self.rng.choices((24, 48, 72, 96, 168, 360), weights=(20, 45, 20, 5, 5, 5))[0]
        deadline = paid + hours(promise)
        log: dict[str, Any] = {"promise_hours": promise, "promised_ship_by": deadline}
        transit = hours(self.rng.randint(72, 240) if large else self.rng.randint(8, 120))
        shipped = signed = None
        status = "delivered"
        stock_out = False
        admitted = None
        if scenario in ("on_time", "in_transit", "refused", "lost"):
            roll = self.rng.random()
            shipped = deadline if roll < 0.03 else self.between(paid + dt.timedelta(minutes=30), deadline)
        elif scenario == "late":
            shipped = deadline + self.pick(
                (dt.timedelta(seconds=1), dt.timedelta(minutes=1), hours(1), hours(self.rng.randint(2, 96)), hours(self.rng.randint(2, 24)))
            )
        elif scenario == "stock_out":
            stock_out = True
            roll = self.rng.random()
            if roll < 0.45:
                admitted = self.between(paid + hours(1), deadline - dt.timedelta(seconds=1))
            elif roll < 0.55:
                admitted = deadline  # not strictly before: no self-admission rate
            elif roll < 0.58:
                admitted = deadline - dt.timedelta(seconds=1)
            elif roll < 0.85:
                admitted = deadline + self.seconds(1, 3 * 86400)
            if self.chance(0.15):  # restocked and shipped after all
                shipped = max(deadline, admitted or deadline) + hours(self.rng.randint(6, 120))
        if shipped is not None and scenario in ("on_time", "late", "stock_out"):
            signed = self.daytime(shipped + transit)
        elif scenario in ("in_transit", "refused", "lost"):
            status = scenario
        if shipped is None:
            status = "awaiting_shipment"
        elif signed is None and status == "delivered":
            status = "in_transit"
        if shipped is not None:
            log["shipped_at"] = shipped
        if signed is not None:
            log["signed_at"] = signed
        log["status"] = status
        log["stock_out"] = stock_out
        if admitted is not None:
            log["stock_out_admitted_at"] = admitted
        return log, scenario

    # -- claims ------------------------------------------------------------------------------

    def request_in_window(self, lo: dt.datetime, end: dt.datetime, inclusive: bool = False) -> tuple[dt.datetime, bool]:
        """A request around a window whose first late instant is ``end`` (or, inclusive, end + 1 s).

        Returns the instant and whether it was drawn near the boundary (those are sometimes written in UTC).
        """
        roll = self.rng.random()
        one = dt.timedelta(seconds=1)
        last_ok = end if inclusive else end - one
        if roll < 0.6 or last_ok <= lo:
            return self.between(lo, max(lo, last_ok)), False
        if roll < 0.7:
            t = last_ok - self.pick((dt.timedelta(0), dt.timedelta(seconds=30), dt.timedelta(minutes=5), hours(1), hours(6)))
            return max(t, lo), True
        if roll < 0.74:  # a millisecond from the boundary: just in time (exclusive end) or just late (inclusive)
            return max(end + dt.timedelta(milliseconds=1 if inclusive else -1), lo), True
        if roll < 0.8:
            return (end if not inclusive else end + one), True  # the first late instant
        if roll < 0.88:
            return end + self.pick((one, dt.timedelta(minutes=1), dt.timedelta(minutes=30), hours(3))), True
        return end + self.seconds(4 * 3600, 45 * 86400), False

    def claim(self, ctype: str, order: dict[str, Any], log: dict[str, Any], index: int) -> tuple[dict[str, Any], list[dt.datetime]]:
        rng = self.rng
        items = order["items"]
        paid: dt.datetime = order["paid_at"]
        shop_services = order["shop"]["services"]
        signed: dt.datetime | None = log.get("signed_at")
        shipped: dt.datetime | None = log.get("shipped_at")
        regular = [line for line in items if not line["gift"]]
        gifts = [line for line in items if line["gift"]]
        line = self.claimed_line(ctype, regular, gifts, shop_services)
        qty = line["quantity"]
        quantity = rng.randint(1, qty - 1) if qty > 1 and self.chance(0.5) else qty
        near_boundary = False
        extra: dict[str, Any] = {}
        installation_as_of: tuple[str, dt.datetime] | None = None
        after = shipped or paid
        fallback_lo = after + hours(rng.randint(2, 72))

        if ctype in ("no_reason_return", "no_reason_exchange", "quality_issue", "counterfeit"):
            if signed is not None:
                n = {"no_reason_return": 7, "no_reason_exchange": 7, "quality_issue": 15, "counterfeit": 90}[ctype]
                lo = signed + dt.timedelta(minutes=rng.randint(10, 600))
                requested, near_boundary = self.request_in_window(lo, window_end(signed, n))
            else:
                requested = fallback_lo
        elif ctype == "not_as_described":
            confirmed = None
            if signed is not None and self.chance(0.85):
                confirmed = signed + (days(10) if self.chance(0.2) else self.seconds(600, 9 * 86400))
                extra["confirmed_receipt_at"] = confirmed
            if paid < NAD_CHANGE and signed is not None:
                lo = signed + dt.timedelta(minutes=rng.randint(10, 600))
                requested, near_boundary = self.request_in_window(lo, window_end(signed, 7))
                if confirmed is not None and confirmed > requested:
                    del extra["confirmed_receipt_at"]
            elif confirmed is not None:
                lo = confirmed + dt.timedelta(minutes=rng.randint(5, 600))
                requested, near_boundary = self.request_in_window(lo, window_end(confirmed, 15))
            elif signed is not None:
                requested = signed + self.seconds(3600, 20 * 86400)
            else:
                requested = fallback_lo
        elif ctype == "damaged_on_arrival":
            if signed is not None:
                requested, near_boundary = self.request_in_window(
                    signed + dt.timedelta(minutes=rng.randint(1, 120)), signed + hours(48), True
                )
            else:
                requested = after + hours(rng.randint(1, 96))
        elif ctype == "price_drop":
            campaign = order.get("campaign")
            lo = paid + hours(rng.randint(1, 48))
            if campaign is not None:
                requested, near_boundary = self.request_in_window(lo, campaign["price_protection_until"], True)
            else:
                requested, near_boundary = self.request_in_window(lo, window_end(paid, 15))
            requested = max(requested, paid + dt.timedelta(minutes=1))
            if self.chance(0.88):
                if self.chance(0.82):
                    cut = Decimal(rng.randint(3, 30)) / 100
                    current = money(line["unit_price"] * (1 - cut))
                else:
                    current = line["unit_price"] + (ZERO if self.chance(0.5) else money(rng.randint(1, 50)))
                extra["current_unit_price"] = money(current)
        elif ctype == "installation_issue":
            requested, details, installation_as_of = self.installation(signed or paid)
            if details is not None:
                extra["installation"] = details
        elif ctype == "trade_in":
            base = signed or after
            requested = base + self.seconds(600, 20 * 86400) if self.chance(0.8) else paid + self.seconds(600, 3600 * 24)
            if self.chance(0.9):
                family = {"small_appliance": "large_appliance", "large_appliance": "small_appliance"}
                cat = line["category"]
                roll = rng.random()
                if roll < 0.7 and cat in TRADE_IN_CATEGORIES:
                    old = cat
                elif roll < 0.82 and cat in family:
                    old = family[cat]
                else:
                    old = self.pick(("phone", "computer", "small_appliance", "large_appliance", "audio_video", "toys"))
                each = line["paid_amount"] / line["quantity"]
                appraised = money(each * quantity * Decimal(rng.randint(5, 80)) / 100)
                extra["trade_in"] = {"category": old, "appraised_value": max(appraised, Decimal("10.00"))}
        else:  # repair
            warranty = line.get("warranty_days")
            if signed is not None and warranty is not None:
                lo = signed + days(rng.randint(1, 20))
                requested, near_boundary = self.request_in_window(lo, window_end(signed, warranty))
            elif signed is not None:
                requested = signed + self.seconds(86400, 400 * 86400)
            else:
                requested = fallback_lo

        # A claim is made after payment, and after shipping when it needs the goods.
        requested = max(requested, paid + dt.timedelta(minutes=1))
        times = [requested]
        whole = requested.replace(microsecond=0)  # follow-up events are whole seconds
        claim: dict[str, Any] = {
            "id": f"{CLAIM_PREFIX[ctype]}{requested.astimezone(SH).strftime('%Y%m%d')}{index % 1000000:06d}",
            "type": ctype,
            "sku": line["sku"],
            "quantity": quantity,
            "requested_at": requested,
            "item_condition": self.weighted(ITEM_CONDITION[ctype]),
            "inspection": self.weighted(INSPECTION[ctype]),
        }
        goods_back = ctype in RETURN_TYPES or ctype == "no_reason_exchange" or (ctype == "repair" and self.chance(0.3))
        if goods_back and self.chance(0.62):
            upload = whole + self.seconds(600, 3 * 86400)
            claim["return_tracking_uploaded_at"] = upload
            times.append(upload)
            if self.chance(0.45):
                received = upload + self.seconds(86400, 5 * 86400)
                claim["merchant_received_at"] = received
                times.append(received)
        elif goods_back and self.chance(0.08):
            received = whole + self.seconds(86400, 6 * 86400)
            claim["merchant_received_at"] = received
            times.append(received)
        response = self.weighted({"none": 42, "agreed": 40, "refused": 18})
        claim["merchant_response"] = response
        if response != "none" and self.chance(0.92):
            answered = whole + self.seconds(300, (60 if self.chance(0.8) else 30) * 3600)
            claim["merchant_responded_at"] = answered
            times.append(answered)
        claim["gift_returned"] = not (gifts and self.chance(0.4))
        if "current_unit_price" in extra:
            claim["current_unit_price"] = extra["current_unit_price"]
        claim["previous_price_claims"] = (rng.choices((0, 1, 2), weights=(85, 12, 3))[0]) if ctype == "price_drop" else 0
        claim["failed_repairs"] = rng.choices((0, 1, 2, 3), weights=(55, 20, 17, 8))[0] if ctype == "repair" else 0
        if "confirmed_receipt_at" in extra:
            claim["confirmed_receipt_at"] = extra["confirmed_receipt_at"]
            times.append(extra["confirmed_receipt_at"])
        elif signed is not None and self.chance(0.25):
            confirmed = signed + self.seconds(600, 10 * 86400)
            if confirmed <= requested:
                claim["confirmed_receipt_at"] = confirmed
        if "installation" in extra:
            claim["installation"] = extra["installation"]
            if "completed_at" in extra["installation"]:
                times.append(extra["installation"]["completed_at"])
        if "trade_in" in extra:
            claim["trade_in"] = extra["trade_in"]
        claim["resolution_requested"] = self.weighted(RESOLUTION[ctype])
        claim["_near"] = near_boundary
        claim["_installation_as_of"] = installation_as_of
        return claim, times

    def claimed_line(self, ctype: str, regular: list[dict[str, Any]], gifts: list[dict[str, Any]], services: list[str]) -> dict[str, Any]:
        if gifts and self.chance(0.03):
            return self.pick(gifts)
        fits = {
            "installation_issue": lambda line: (
                (line["category"] in INSTALL_CATEGORIES and "delivery_install" in services)
                or ("needs_installation" in line["flags"] and "installation" in services)
            ),
            "trade_in": lambda line: line["category"] in TRADE_IN_CATEGORIES,
            "repair": lambda line: "warranty_days" in line,
            "no_reason_return": has_seven_day_return,
            "no_reason_exchange": has_seven_day_return,
        }.get(ctype)
        if fits is not None and self.chance(0.8 if ctype.startswith("no_reason") else 0.92):
            good = [line for line in regular if fits(line)]
            if good:
                return self.pick(good)
        return self.pick(regular)

    def installation(self, signed: dt.datetime) -> tuple[dt.datetime, dict[str, Any] | None, tuple[str, dt.datetime] | None]:
        """Installation facts, the request, and a constraint on as_of (("min"|"max"), instant)."""
        rng = self.rng
        agreed = (signed.astimezone(SH) + days(rng.choice((0, 0, 1, 1, 2, 3, 5)))).date()
        day_start = dt.datetime.combine(agreed, dt.time(0, 0), tzinfo=SH)
        day_end = dt.datetime.combine(agreed, dt.time(23, 59, 59), tzinfo=SH)
        not_done_from = day_start + days(16)  # window_end(agreed day end, 15)
        earliest = max(signed + dt.timedelta(minutes=20), day_start + hours(8))
        overcharge = money(self.pick((30, 50, 80, 120, 150, 200, 260, 300))) if self.chance(0.18) else ZERO
        scenario = self.weighted(
            {"on_time": 22, "edge_on_time": 3, "edge_late": 2, "late": 18, "very_late": 8, "pending": 6, "open": 10, "open_long": 8,
             "refused": 10, "no_details": 9, "as_of_at_deadline": 4}
        )  # fmt: skip
        details: dict[str, Any] = {"agreed_date": agreed.isoformat(), "overcharge": overcharge, "refused": False}
        constraint: tuple[str, dt.datetime] | None = None
        if scenario == "on_time":
            completed = self.between(earliest, day_end)
            details["completed_at"] = completed
            requested = completed + self.seconds(600, 5 * 86400)
        elif scenario == "edge_on_time":
            completed = max(day_end, earliest)
            details["completed_at"] = completed
            requested = completed + self.seconds(600, 86400)
        elif scenario == "edge_late":
            completed = day_end + dt.timedelta(microseconds=500000)
            details["completed_at"] = completed
            requested = day_end + self.seconds(600, 86400)
        elif scenario == "late":
            completed = day_end + self.seconds(1, 14 * 86400)
            details["completed_at"] = completed
            requested = day_end + self.seconds(60, 2 * 86400)
            requested = min(requested, completed + self.seconds(60, 86400)) if self.chance(0.3) else requested
        elif scenario == "very_late":
            completed = not_done_from + self.seconds(0, 10 * 86400)
            details["completed_at"] = completed
            requested = day_end + self.seconds(86400, 10 * 86400)
        elif scenario == "pending":  # asks on the day, before the installer came
            requested = self.between(earliest, day_end - hours(1))
            constraint = ("max", day_end)
        elif scenario == "open":  # not done yet, past the agreed day, before "not done"
            requested = day_end + self.seconds(60, 5 * 86400)
            constraint = ("max", not_done_from - dt.timedelta(seconds=1))
        elif scenario == "open_long":
            requested = day_end + self.seconds(86400, 20 * 86400)
            constraint = ("min", not_done_from + self.seconds(0, 86400))
        elif scenario == "as_of_at_deadline":
            requested = day_end + self.seconds(86400, 10 * 86400)
            constraint = ("exact", not_done_from if self.chance(0.5) else not_done_from - dt.timedelta(seconds=1))
        elif scenario == "refused":
            details["refused"] = True
            requested = self.between(earliest, day_end) + self.seconds(0, 2 * 86400)
        else:
            requested = self.between(earliest, day_end + days(3))
            return requested, None, None
        return requested, details, constraint

    # -- one order ---------------------------------------------------------------------------

    def order(self, index: int) -> dict[str, Any]:
        paid, near = self.paid_at()
        ctype = self.claim_type(near)
        program = self.program(near, ctype)
        theme = self.theme(program, ctype, near)
        shop, brand, code = self.shop(theme, program, ctype, near)
        lines = self.items(theme, program, brand, code, ctype, shop["services"])
        promotion = self.discounts(lines)
        if len(lines) < 4 and self.chance(0.15):
            lines.append(self.gift(theme, code))
        paid_total = sum((line["paid_amount"] for line in lines), ZERO)
        large = any("large" in line["flags"] for line in lines)
        shipping = self.shipping(paid_total, large)
        method = self.weighted({"alipay": 45, "huabei": 25, "bank_card": 18, "credit_card": 12})
        placed = paid - (self.seconds(3, 900) if self.chance(0.9) else self.seconds(900, 3 * 86400))
        campaign = self.campaign(paid)
        channel = self.weighted({"app": 55, "web": 14, "mini_program": 12, "livestream": 19})
        log, scenario = self.logistics(paid, near, ctype, large)
        if log["status"] == "awaiting_shipment" and ctype not in (None, "price_drop"):
            ctype = "price_drop" if self.chance(0.5) else None
        if scenario == "unshipped_not_due":
            ctype = None

        order: dict[str, Any] = {
            "order_id": f"GEN{self.seed}-{index:06d}",
            "channel": channel,
            "program": program,
            "placed_at": placed,
            "paid_at": paid,
            "as_of": None,
            "payment": {"method": method, "amount": paid_total + shipping["fee"]},
            "shipping": shipping,
        }
        if promotion is not None:
            order["promotion"] = promotion
        if campaign is not None:
            order["campaign"] = campaign
        order["shop"] = shop
        order["buyer"] = self.buyer()
        order["items"] = lines
        order["logistics"] = log

        times = [paid] + [log[k] for k in ("shipped_at", "signed_at", "stock_out_admitted_at") if k in log]
        claim = None
        if ctype is not None:
            claim, claim_times = self.claim(ctype, order, log, index)
            times.extend(claim_times)
        floor = max(times)
        as_of = floor.replace(microsecond=0) + self.seconds(600, 4 * 86400)
        if scenario == "unshipped_not_due":
            as_of = self.between(paid + dt.timedelta(minutes=5), log["promised_ship_by"] - dt.timedelta(seconds=1))
        elif scenario == "unshipped_late" and log["status"] == "awaiting_shipment":
            edge = self.rng.random()
            deadline = log["promised_ship_by"]
            target = deadline if edge < 0.08 else deadline + self.seconds(1, 5 * 86400)
            as_of = max(target, floor)
        if claim is not None:
            inst = claim.pop("_installation_as_of")
            requested = claim["requested_at"]
            if inst is not None:
                kind, when = inst
                if kind == "min":
                    as_of = max(as_of, when)
                elif kind == "max" and floor < when:
                    as_of = self.between(floor, when)
                elif kind == "exact" and floor <= when:
                    as_of = when
            elif claim["type"] in RETURN_TYPES and claim["merchant_response"] == "none":
                roll = self.rng.random()
                timeout = requested + hours(36)
                if roll < 0.12:
                    target = timeout  # not "more than" 36 h
                elif roll < 0.2:
                    target = timeout + dt.timedelta(seconds=1)
                elif roll < 0.5:
                    target = self.between(requested + dt.timedelta(minutes=10), timeout - dt.timedelta(seconds=1))
                else:
                    target = timeout + self.seconds(3600, 10 * 86400)
                as_of = target if target >= floor else floor.replace(microsecond=0) + self.seconds(60, 3600)
        order["as_of"] = as_of
        if claim is not None:
            order["claim"] = claim
        return self.finish(order, claim)

    def finish(self, order: dict[str, Any], claim: dict[str, Any] | None) -> dict[str, Any]:
        """Format every instant; some are written in UTC ``Z`` (more often the boundary ones)."""
        near_request = claim.pop("_near") if claim is not None else False
        near_paid = any(abs((order["paid_at"] - d).total_seconds()) < 2 * 86400 for d in VERSION_DATES.values())

        def ts(t: dt.datetime, p: float = 0.04) -> str:
            return fmt_ts(t, self.chance(p))

        order["placed_at"] = ts(order["placed_at"])
        order["paid_at"] = ts(order["paid_at"], 0.25 if near_paid else 0.04)
        order["as_of"] = ts(order["as_of"], 0.08)
        if "campaign" in order:
            order["campaign"]["price_protection_until"] = ts(order["campaign"]["price_protection_until"], 0.1)
        log = order["logistics"]
        for key in ("promised_ship_by", "shipped_at", "signed_at", "stock_out_admitted_at"):
            if key in log:
                log[key] = ts(log[key])
        if claim is not None:
            claim["requested_at"] = ts(claim["requested_at"], 0.35 if near_request else 0.08)
            for key in ("return_tracking_uploaded_at", "merchant_received_at", "merchant_responded_at", "confirmed_receipt_at"):
                if key in claim:
                    claim[key] = ts(claim[key], 0.06)
            if "installation" in claim and "completed_at" in claim["installation"]:
                claim["installation"]["completed_at"] = ts(claim["installation"]["completed_at"], 0.1)
        return order


ITEM_CONDITION: dict[str, dict[str, int]] = {
    "no_reason_return": {"intact": 62, "opened_for_inspection": 22, "tags_removed": 6, "seal_broken": 6, "activated": 5, "used": 5,
                         "damaged": 3},
    "no_reason_exchange": {"intact": 62, "opened_for_inspection": 22, "tags_removed": 6, "seal_broken": 4, "activated": 3, "used": 5,
                           "damaged": 2},
    "quality_issue": {"used": 35, "opened_for_inspection": 25, "activated": 15, "damaged": 15, "intact": 5, "seal_broken": 5},
    "damaged_on_arrival": {"damaged": 80, "opened_for_inspection": 10, "intact": 5, "seal_broken": 5},
    "counterfeit": {"opened_for_inspection": 45, "seal_broken": 20, "used": 15, "intact": 15, "activated": 5},
    "not_as_described": {"opened_for_inspection": 40, "intact": 20, "tags_removed": 10, "used": 20, "seal_broken": 10},
    "price_drop": {"intact": 50, "opened_for_inspection": 10, "used": 30, "activated": 10},
    "installation_issue": {"intact": 40, "used": 40, "damaged": 10, "opened_for_inspection": 10},
    "trade_in": {"intact": 60, "used": 30, "activated": 10},
    "repair": {"used": 60, "damaged": 25, "activated": 15},
}  # fmt: skip
INSPECTION: dict[str, dict[str, int]] = {
    "no_reason_return": {"none": 88, "pending": 4, "no_defect": 4, "defect_confirmed": 4},
    "no_reason_exchange": {"none": 90, "pending": 5, "no_defect": 5},
    "quality_issue": {"defect_confirmed": 45, "pending": 20, "none": 15, "no_defect": 20},
    "damaged_on_arrival": {"none": 50, "defect_confirmed": 25, "pending": 15, "no_defect": 10},
    "counterfeit": {"counterfeit_confirmed": 45, "pending": 20, "none": 12, "no_defect": 18, "mismatch_confirmed_platform": 3,
                    "defect_confirmed": 2},
    "not_as_described": {"mismatch_confirmed_platform": 28, "mismatch_confirmed_merchant": 28, "pending": 15, "none": 12, "no_defect": 15,
                         "defect_confirmed": 2},
    "price_drop": {"none": 100},
    "installation_issue": {"none": 90, "pending": 10},
    "trade_in": {"none": 80, "pending": 20},
    "repair": {"defect_confirmed": 50, "pending": 20, "none": 25, "no_defect": 5},
}  # fmt: skip
RESOLUTION: dict[str, dict[str, int]] = {
    "no_reason_return": {"refund": 98, "exchange": 2},
    "no_reason_exchange": {"exchange": 95, "refund": 5},
    "quality_issue": {"refund": 50, "exchange": 30, "repair": 20},
    "damaged_on_arrival": {"refund": 65, "exchange": 35},
    "counterfeit": {"refund": 100},
    "not_as_described": {"refund": 85, "exchange": 15},
    "price_drop": {"refund": 100},
    "installation_issue": {"refund": 70, "repair": 30},
    "trade_in": {"refund": 100},
    "repair": {"repair": 85, "exchange": 15},
}


def generate(count: int, seed: int = 1) -> Iterator[dict[str, Any]]:
    """Yield ``count`` orders; the same seed gives the same orders."""
    gen = _Gen(seed)
    for index in range(count):
        yield gen.order(index)


# --------------------------------------------------------------------------------------------
# JSON lines: Decimal written exactly (``199.00``), never through float.
# --------------------------------------------------------------------------------------------


_string = encode_basestring  # JSON string with non-ASCII text kept as is (ensure_ascii=False)


def _write(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(_string(value))
    elif isinstance(value, bool):
        out.append("true" if value else "false")
    elif isinstance(value, Decimal):
        out.append(format(value, "f"))
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, dict):
        out.append("{")
        first = True
        for key, item in value.items():
            if not first:
                out.append(",")
            first = False
            out.append(_string(key))
            out.append(":")
            _write(item, out)
        out.append("}")
    elif isinstance(value, list):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _write(item, out)
        out.append("]")
    elif value is None:
        out.append("null")
    else:
        raise TypeError(f"cannot write {type(value).__name__} as JSON")


def dumps(order: dict[str, Any]) -> str:
    """One order as a JSON line (no newline): UTF-8 text unescaped, money with two decimals."""
    out: list[str] = []
    _write(order, out)
    return "".join(out)


def write_jsonl(orders: Iterable[dict[str, Any]], stream: TextIO) -> int:
    """Write orders one per line; returns how many were written."""
    n = 0
    for order in orders:
        stream.write(dumps(order))
        stream.write("\n")
        n += 1
    return n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate realistic synthetic orders (JSON lines) for the default policy.")
    parser.add_argument("--count", type=int, default=1000, help="number of orders (default 1000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1); same seed, same bytes")
    parser.add_argument("--out", help="output file (default: standard output)")
    args = parser.parse_args(argv)
    if args.count < 0:
        parser.error("--count must not be negative")
    if args.out:
        with open(args.out, "w", encoding="utf-8", newline="\n") as handle:
            write_jsonl(generate(args.count, args.seed), handle)
    else:
        stream = open(sys.stdout.fileno(), "w", encoding="utf-8", newline="\n", closefd=False)  # noqa: SIM115
        with stream:
            write_jsonl(generate(args.count, args.seed), stream)
    return 0


if __name__ == "__main__":
    sys.exit(main())
