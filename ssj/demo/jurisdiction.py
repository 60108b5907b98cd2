"""A synthetic city jurisdiction for `ssj demo`, benchmarks and tests: 常州市市场监督管理局.

Everything comes from one seed (`random.Random`, seeded with strings, which Python hashes with
SHA-512: no dependence on PYTHONHASHSEED, the platform or the clock), so two builds from the same
seed write byte-identical files on every machine. Dates are relative to `REFERENCE_DATE`, not to
today: "expired" means expired on 2026-01-01.

What it generates, and how it is loaded:

- the bureau and its sections (科室/支队), and users with every role: `RegistryService`
  (bootstrap, add_department, add_user);
- the inspection-item list (随机抽查事项清单): `items.xlsx`, a title row over the header, a
  category merged down each group, legal bases one per row on continuation rows, general and key
  items with ratios of 3-30 %, joint items with cooperating sections; loaded with `import_file`;
- the target registry (检查对象名录库): `targets.csv` in GBK, as Excel saves it in China. Companies
  with valid USCCs (GB 32100 and GB 11714 check characters), individual businesses identified by
  the owner's resident id (GB 11643 check digit) or a 92… USCC, a few product batches; addresses
  in the six real districts; credit classes A 30 % / B 50 % / C 15 % / D 5 %; a few deregistered,
  abnormal or seriously dishonest; tags such as 投诉较多;
- the yearly reclassification: `targets-update.csv` (the same format) with the targets whose
  credit class or status changed, plus newly registered ones, imported after `targets.csv`, so
  the registry has a history and as-of queries have something to show;
- the inspector registry and the expert pool: `inspectors.xlsx` and `experts.xlsx` (certificate
  numbers, specialties matching the items', some certificates expired, some people on leave);
- conflicts of interest (declarations) and the sections' structural rules: `RegistryService`.

`build` is idempotent: departments, users, declarations and rules that exist are skipped, the
importers write only what changed, and `targets.csv` (the registry before the reclassification)
is imported only while some of its targets are missing, so a second build writes nothing.
"""

from __future__ import annotations

import csv
import functools
import io
import math
import random
import re
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.styles import Alignment, Font

from ssj.demo import DEFAULT_SEED, DEFAULT_TARGETS, MIN_TARGETS
from ssj.domain.access import Principal
from ssj.domain.identifiers import (
    USCC_CHARSET,
    make_uscc,
    organization_code_check_character,
    resident_id_check_character,
)
from ssj.domain.organisation import Role
from ssj.errors import ValidationError
from ssj.services.context import Services
from ssj.services.imports import ImportReport, import_file
from ssj.services.registry import RegistryService

Progress = Callable[[str, int, int], None]
"""progress(phase, done, total): one phase label per step, in Chinese and English."""

REFERENCE_DATE = date(2026, 1, 1)
CITY = "320400"
BUREAU = "CZ-SJJ"
BUREAU_NAME = "常州市市场监督管理局"
ADMIN = "admin"

CREDIT_WEIGHTS = {"A": 30, "B": 50, "C": 15, "D": 5}
STATUS_WEIGHTS = {"存续": 960, "注销": 15, "经营异常": 20, "严重违法失信": 5}
STATUS_VALUES = {
    "存续": "active",
    "注销": "deregistered",
    "经营异常": "abnormal",
    "严重违法失信": "serious_violation",
}
TYPE_VALUES = {"企业": "enterprise", "个体工商户": "individual", "产品": "product"}
NEW_SHARE = 0.02  # newly registered targets in the reclassification file
RECLASSIFIED_SHARE = 0.05

FILES = {
    "items": "items.xlsx",
    "targets": "targets.csv",
    "update": "targets-update.csv",
    "inspectors": "inspectors.xlsx",
    "experts": "experts.xlsx",
}

# --- the place --------------------------------------------------------------------------------


@dataclass(frozen=True)
class District:
    code: str
    name: str
    weight: int
    roads: tuple[str, ...]

    @property
    def prefix(self) -> str:
        """How local names start: 常州市天宁区…, but 溧阳市… (a county-level city)."""
        return self.name if self.name.endswith("市") else f"常州市{self.name}"

    @property
    def address_prefix(self) -> str:
        return f"江苏省{self.prefix}"


DISTRICTS = (
    District(
        "320402",
        "天宁区",
        16,
        ("延陵东路", "青洋北路", "红梅路", "竹林西路", "关河东路", "中吴大道", "丽华北路"),
    ),
    District(
        "320404",
        "钟楼区",
        15,
        ("延陵西路", "南大街", "怀德中路", "劳动西路", "星港大道", "玉龙南路", "勤业路"),
    ),
    District(
        "320411",
        "新北区",
        22,
        ("通江中路", "太湖东路", "汉江路", "长江北路", "龙锦路", "华山中路", "黄河西路"),
    ),
    District(
        "320412",
        "武进区",
        27,
        ("人民东路", "武宜中路", "长虹路", "延政中路", "花园街", "常武中路", "定安中路"),
    ),
    District(
        "320413",
        "金坛区",
        9,
        ("南环一路", "东门大街", "华城路", "西城大道", "金坛大道", "愚池路", "晨风路"),
    ),
    District(
        "320481",
        "溧阳市",
        11,
        ("燕山中路", "平陵东路", "天目湖大道", "昆仑北路", "育才南路", "罗湾路", "康平路"),
    ),
)

# Where individual business owners were born (GB/T 2260 codes; not all local).
BIRTH_PLACES = (
    "320402",
    "320404",
    "320411",
    "320412",
    "320413",
    "320481",
    "320482",
    "320102",
    "320211",
    "321281",
    "341302",
    "411524",
)

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶"
    "程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛"
    "郝龚邵万钱严武戴莫孔汤恽"
)
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚英华建国文辉玲红鹏飞婷雪琳晨宇浩凯佳欣怡涵"
    "轩博嘉俊晓东海波宁斌丹萍燕莉志春亮林峰蕾颖正荣新民永庆云龙德祥瑞雯倩颂玮昊"
)
BRAND = (
    "华盛恒鑫源达丰泰瑞宏兴隆金德信安康弘嘉腾凯通宝诚创联科新元中天宇晨益和顺利永正龙祥博远"
    "润亚美星光明精益卓越"
)
BRANDS_TWO = ("龙城", "延陵", "江南", "东方", "运河", "舜山", "武阳", "常青")


# --- the bureau's sections, their trades and their item lists ---------------------------------


@dataclass(frozen=True)
class ItemGroup:
    """Items = subjects x checks, in one category, under the same legal bases."""

    category: str
    subjects: tuple[tuple[str, str, bool], ...]  # (subject, target type label, key item)
    checks: tuple[tuple[str, str, str], ...]  # (name suffix, content, methods)
    bases: tuple[str, ...]  # the first is always cited; one or two of the rest are added


@dataclass(frozen=True)
class Section:
    short: str
    name: str
    kind: str  # 科室 or 支队
    specialty: str
    share: float  # of the target registry
    individual_share: float
    product_share: float
    industries: tuple[str, ...]
    shops: tuple[str, ...]
    groups: tuple[ItemGroup, ...]
    partner: str | None  # cooperating section for joint items
    inspectors: int
    experts: int
    expert_specialties: tuple[str, ...] = ()

    @property
    def code(self) -> str:
        return f"{BUREAU}-{self.short}"


def _g(
    category: str, subjects: str, checks: Sequence[tuple[str, str, str]], bases: str
) -> ItemGroup:
    """Compact notation: subjects "name|type|key;…" (type 企 / 个 / 品, key "*")."""
    types = {"企": "企业", "个": "个体工商户", "品": "产品"}
    parsed = []
    for entry in subjects.split(";"):
        name, kind, key = [*entry.split("|"), "", ""][:3]
        parsed.append((name, types[kind or "企"], key == "*"))
    return ItemGroup(category, tuple(parsed), tuple(checks), tuple(bases.split(";")))


SE = "《中华人民共和国特种设备安全法》"
FS = "《中华人民共和国食品安全法》"
PQ = "《中华人民共和国产品质量法》"
AD = "《中华人民共和国广告法》"
PR = "《中华人民共和国价格法》"
ON_SITE, DOCS, ONLINE, AGENCY = "现场检查", "书面检查", "网络检查", "专业机构核查"

SECTIONS: tuple[Section, ...] = (
    Section(
        "TZ",
        "特种设备安全监察科",
        "科室",
        "特种设备",
        0.08,
        0.0,
        0.0,
        ("机械", "电梯工程", "起重设备", "锅炉", "化工", "气体", "物业管理", "游乐设备", "热电"),
        (),
        (
            _g(
                "特种设备使用",
                "电梯使用单位||*;锅炉使用单位||*;固定式压力容器使用单位;压力管道使用单位;"
                "起重机械使用单位;场（厂）内专用机动车辆使用单位;大型游乐设施运营使用单位||*",
                (
                    (
                        "安全管理情况检查",
                        "安全管理机构和人员配备、安全技术档案、日常维护保养和定期自行检查记录",
                        ON_SITE,
                    ),
                    ("作业人员持证上岗情况检查", "作业人员是否按规定取得资格并持证上岗", DOCS),
                    (
                        "定期检验和隐患整改情况检查",
                        "是否在检验有效期内使用，检验发现的问题是否按期整改",
                        ON_SITE,
                    ),
                ),
                f"{SE}第五十七条;{SE}第六十一条;《特种设备安全监察条例》第五十条;"
                "《江苏省特种设备安全条例》",
            ),
            _g(
                "特种设备生产",
                "气瓶充装单位||*;电梯安装改造修理单位;电梯维护保养单位||*;压力容器制造单位;"
                "起重机械制造单位;特种设备检验检测机构",
                (
                    (
                        "许可条件保持情况检查",
                        "资源条件、人员资格和许可范围是否持续满足要求",
                        ON_SITE,
                    ),
                    ("质量保证体系运转情况检查", "质量保证体系文件和实施记录", DOCS),
                ),
                f"{SE}第五十七条;{SE}第十八条;《特种设备安全监察条例》第五十条",
            ),
        ),
        "ZD",
        28,
        15,
        ("锅炉压力容器", "电梯", "起重机械"),
    ),
    Section(
        "SC",
        "食品生产安全监督管理科",
        "科室",
        "食品安全",
        0.05,
        0.25,
        0.0,
        ("食品", "粮油", "乳业", "酒业", "调味品", "茶业", "肉制品", "食品科技", "饮料", "糕点"),
        ("食品加工坊", "豆制品作坊", "糕点作坊", "熟食加工坊"),
        (
            _g(
                "食品生产",
                "粮食加工品生产企业;食用油、油脂及其制品生产企业;调味品生产企业;"
                "肉制品生产企业||*;乳制品生产企业||*;饮料生产企业;方便食品生产企业;"
                "饼干生产企业;罐头生产企业;冷冻饮品生产企业;速冻食品生产企业;糖果制品生产企业;"
                "茶叶及相关制品生产企业;酒类生产企业;蔬菜制品生产企业;糕点生产企业;"
                "豆制品生产企业;食品添加剂生产企业||*;保健食品生产企业||*;"
                "婴幼儿配方食品生产企业||*",
                (
                    (
                        "生产过程控制情况检查",
                        "原辅料进货查验、生产过程控制、出厂检验及记录",
                        ON_SITE,
                    ),
                    ("许可条件保持情况检查", "生产场所、设备设施和人员是否符合许可条件", ON_SITE),
                ),
                f"{FS}第一百一十条;{FS}第八十七条;"
                "《食品生产经营监督检查管理办法》（国家市场监督管理总局令第49号）;"
                "《食品生产许可管理办法》",
            ),
            _g(
                "食品小作坊",
                "食品小作坊|个",
                (("生产加工情况检查", "登记证、加工场所卫生和原料使用情况", ON_SITE),),
                f"{FS}第三十六条;《江苏省食品小作坊和食品摊贩管理条例》",
            ),
        ),
        "JY",
        20,
        8,
        ("食品检验", "食品工艺"),
    ),
    Section(
        "JY",
        "食品经营安全监督管理科",
        "科室",
        "食品安全",
        0.24,
        0.7,
        0.0,
        ("超市", "餐饮管理", "食品贸易", "便利店", "酒店管理", "农产品市场管理", "餐饮服务"),
        ("小吃店", "面馆", "饭店", "便利店", "水果店", "烧烤店", "快餐店", "卤菜店", "早餐店"),
        (
            _g(
                "食品销售",
                "大型商场超市;连锁便利店;农产品批发市场;食品贸易企业;冷链食品贮存企业||*;"
                "网络食品销售企业",
                (
                    ("进货查验和记录制度执行情况检查", "进货查验记录、票证留存和供货者资质", DOCS),
                    ("食品贮存和标签标识情况检查", "贮存条件、过期食品清理和标签标识", ON_SITE),
                ),
                f"{FS}第一百一十条;{FS}第五十三条;"
                "《食品生产经营监督检查管理办法》（国家市场监督管理总局令第49号）",
            ),
            _g(
                "餐饮服务",
                "大型餐饮服务单位;学校（含托幼机构）食堂||*;养老机构食堂||*;"
                "集体用餐配送单位||*;中央厨房;连锁餐饮企业",
                (
                    ("原料控制和加工制作过程检查", "原料采购、加工制作和留样", ON_SITE),
                    ("食品安全管理制度落实情况检查", "食品安全管理人员、从业人员健康管理", DOCS),
                    ("餐饮具清洗消毒情况检查", "清洗消毒设施运行和餐饮具保洁", ON_SITE),
                ),
                f"{FS}第一百一十条;{FS}第五十五条;{FS}第五十六条;《餐饮服务食品安全操作规范》",
            ),
            _g(
                "小餐饮和食品摊贩",
                "小餐饮店|个;食品摊贩|个;小食杂店|个",
                (
                    ("食品安全状况检查", "登记公示、从业人员健康证明和环境卫生", ON_SITE),
                    ("原料进货情况检查", "原料来源和进货凭证", DOCS),
                ),
                f"{FS}第三十六条;《江苏省食品小作坊和食品摊贩管理条例》",
            ),
        ),
        "JG",
        40,
        6,
        ("餐饮安全",),
    ),
    Section(
        "ZL",
        "产品质量安全监督管理科",
        "科室",
        "产品质量",
        0.12,
        0.0,
        0.1,
        ("电线电缆", "建材", "五金", "纺织", "电器", "塑业", "化肥", "玩具", "新材料", "家具"),
        (),
        (
            _g(
                "工业产品生产许可",
                "电线电缆获证企业||*;危险化学品获证企业||*;化肥获证企业;建筑用钢筋获证企业;"
                "水泥获证企业;防爆电气获证企业;危险化学品包装物及容器获证企业",
                (("生产许可条件保持情况检查", "生产条件、检验能力和获证产品一致性", ON_SITE),),
                f"{PQ}第十五条;{PQ}第十八条;《中华人民共和国工业产品生产许可证管理条例》",
            ),
            _g(
                "强制性产品认证",
                "电动自行车生产企业||*;儿童玩具生产企业;家用电器生产企业;电线组件生产企业;"
                "照明电器生产企业;安全玻璃生产企业",
                (("强制性产品认证执行情况检查", "认证证书、标志使用和一致性", ON_SITE),),
                f"{PQ}第十八条;《中华人民共和国认证认可条例》",
            ),
            _g(
                "产品质量监督抽查",
                "电线电缆|品|*;电动自行车|品|*;儿童玩具|品|*;学生用品|品;服装|品;床上用品|品;"
                "电热毯|品;燃气灶具|品|*;消防产品|品|*;安全帽|品|*;化肥|品;塑料管材|品;"
                "建筑防水卷材|品;汽车用品|品;家具|品",
                (("产品质量监督抽查", "按产品标准和抽查实施细则检验", AGENCY),),
                f"{PQ}第十五条;{PQ}第十六条;《产品质量监督抽查管理暂行办法》",
            ),
            _g(
                "生产企业质量管理",
                "机械制造企业;纺织服装企业;建材生产企业;化工生产企业;电器生产企业",
                (("产品质量主体责任落实情况检查", "质量管理制度、出厂检验和标识", DOCS),),
                f"{PQ}第十八条;{PQ}第二十六条",
            ),
        ),
        "BZ",
        26,
        10,
        ("电气安全", "化工检验", "建材检验"),
    ),
    Section(
        "WJ",
        "网络交易监督管理科",
        "科室",
        "网络交易",
        0.06,
        0.0,
        0.0,
        ("电子商务", "网络科技", "信息技术", "文化传媒", "供应链管理"),
        (),
        (
            _g(
                "网络交易",
                "网络交易平台经营者;网络直播营销平台||*;平台内经营者;自建网站经营者;"
                "网络餐饮服务平台",
                (
                    ("主体信息公示情况检查", "营业执照信息、行政许可信息公示", ONLINE),
                    ("经营行为合规情况检查", "商品信息、交易规则和促销活动", ONLINE),
                    ("消费者权益保护制度落实情况检查", "七日无理由退货、投诉处理", DOCS),
                ),
                "《中华人民共和国电子商务法》;"
                "《网络交易监督管理办法》（国家市场监督管理总局令第37号）;"
                "《中华人民共和国消费者权益保护法》",
            ),
        ),
        "GG",
        12,
        0,
    ),
    Section(
        "JG",
        "价格监督检查和反不正当竞争科",
        "科室",
        "价格监督",
        0.08,
        0.3,
        0.0,
        ("大药房", "商贸", "石油销售", "停车管理", "旅游开发", "物业服务", "汽车销售服务"),
        ("药店", "商店", "便利店", "理发店", "洗衣店"),
        (
            _g(
                "明码标价",
                "商场超市;药品零售企业;加油站;机动车停车场;旅游景区;宾馆酒店;物业服务企业;"
                "医疗机构;教育培训机构;殡葬服务单位;汽车销售服务企业;餐饮企业;农贸市场;"
                "个体商户|个",
                (("明码标价情况检查", "标价签、收费公示和价格欺诈行为", ON_SITE),),
                f"{PR}第十三条;{PR}第三十四条;"
                "《明码标价和禁止价格欺诈规定》（国家市场监督管理总局令第56号）",
            ),
            _g(
                "收费行为",
                "行业协会商会;转供电主体;供水供气经营者",
                (("收费行为检查", "收费项目、标准和依据", DOCS),),
                f"{PR}第三十四条;《价格违法行为行政处罚规定》",
            ),
            _g(
                "反不正当竞争",
                "经营者商业混淆行为;经营者虚假宣传行为;经营者商业贿赂行为;有奖销售行为",
                (("检查", "是否存在不正当竞争行为", ON_SITE),),
                "《中华人民共和国反不正当竞争法》第十三条;《中华人民共和国反不正当竞争法》第四条",
            ),
        ),
        "ZD",
        18,
        0,
    ),
    Section(
        "GG",
        "广告监督管理科",
        "科室",
        "广告监管",
        0.04,
        0.0,
        0.0,
        ("广告", "文化传媒", "广告传媒", "品牌策划", "会展服务"),
        (),
        (
            _g(
                "广告发布",
                "广播电台电视台;报刊出版单位;户外广告发布者;互联网广告发布者;广告经营者",
                (
                    ("广告审查制度落实情况检查", "广告业务承接登记、审核和档案管理", DOCS),
                    ("广告发布内容合法性检查", "广告内容是否真实合法", ONLINE),
                ),
                f"{AD}第四十九条;{AD}第三十四条;《互联网广告管理办法》",
            ),
            _g(
                "重点领域广告",
                "医疗广告||*;药品医疗器械广告||*;保健食品广告||*;房地产广告;教育培训广告;"
                "食品广告;金融投资广告",
                (("发布情况检查", "广告审查批准文号和广告内容", ONLINE),),
                f"{AD}第四十九条;{AD}第十六条;"
                "《药品、医疗器械、保健食品、特殊医学用途配方食品广告审查管理暂行办法》",
            ),
        ),
        "WJ",
        10,
        0,
    ),
    Section(
        "JL",
        "计量科",
        "科室",
        "计量",
        0.06,
        0.2,
        0.0,
        ("石油销售", "眼镜", "计量检测", "市场管理", "燃气", "水务"),
        ("眼镜店", "水产店", "菜店", "肉店"),
        (
            _g(
                "计量器具",
                "加油站||*;集贸市场;眼镜制配场所;医疗卫生机构||*;供水供气企业;"
                "出租汽车经营企业;大型商场超市",
                (("强制检定计量器具使用情况检查", "计量器具检定合格和使用管理", ON_SITE),),
                "《中华人民共和国计量法》第十八条;《中华人民共和国计量法实施细则》;"
                "《加油站计量监督管理办法》;《眼镜制配计量监督管理办法》",
            ),
            _g(
                "商品量",
                "定量包装商品生产企业;零售商户|个;个体眼镜店|个",
                (("商品量计量检查", "定量包装商品净含量和零售商品称重", ON_SITE),),
                "《中华人民共和国计量法》第十八条;"
                "《定量包装商品计量监督管理办法》（国家市场监督管理总局令第70号）",
            ),
            _g(
                "计量机构和能源计量",
                "计量技术机构;重点用能单位||*;计量器具制造企业;计量标准考核获证单位",
                (("计量监督检查", "计量标准、检定规程执行和能源计量器具配备", DOCS),),
                "《中华人民共和国计量法》第十八条;《能源计量监督管理办法》",
            ),
        ),
        "JG",
        14,
        6,
        ("计量检定",),
    ),
    Section(
        "BZ",
        "标准化科",
        "科室",
        "标准化",
        0.06,
        0.0,
        0.0,
        ("科技", "新材料", "智能装备", "检测技术", "认证服务"),
        (),
        (
            _g(
                "标准实施",
                "企业标准自我声明公开;团体标准制定;强制性国家标准实施;产品执行标准标注;"
                "商品条码使用;地方标准实施",
                (("情况检查", "标准文本、声明公开内容和执行情况", DOCS),),
                "《中华人民共和国标准化法》第三十二条;《企业标准化促进办法》",
            ),
            _g(
                "认证认可和检验检测",
                "检验检测机构||*;认证证书和标志使用;认证机构从业活动",
                (("监督检查", "资质认定条件、检验检测报告和认证活动", ON_SITE),),
                "《中华人民共和国认证认可条例》;《检验检测机构资质认定管理办法》",
            ),
        ),
        "ZL",
        10,
        5,
        ("检验检测",),
    ),
    Section(
        "XY",
        "信用监督管理科",
        "科室",
        "信用监管",
        0.17,
        0.25,
        0.0,
        ("商贸", "贸易", "咨询", "建筑工程", "物流", "科技", "装饰工程", "人力资源", "企业管理"),
        ("商行", "经营部", "服务部", "工作室"),
        (
            _g(
                "公示信息",
                "有限责任公司;股份有限公司;外商投资企业;个人独资企业;合伙企业;"
                "农民专业合作社;个体工商户|个",
                (
                    ("年度报告公示信息的检查", "年度报告内容的真实性", DOCS),
                    ("即时公示信息的检查", "股东出资、行政许可等即时信息", DOCS),
                ),
                "《企业信息公示暂行条例》;《中华人民共和国市场主体登记管理条例》第三十八条",
            ),
            _g(
                "登记事项",
                "市场主体登记住所（经营场所）;法定代表人（负责人）任职情况;市场主体登记注册行为",
                (("检查", "登记事项与实际情况是否一致", ON_SITE),),
                "《中华人民共和国市场主体登记管理条例》第三十八条;"
                "《中华人民共和国市场主体登记管理条例实施细则》",
            ),
        ),
        "ZD",
        16,
        0,
    ),
    Section(
        "ZD",
        "综合行政执法支队",
        "支队",
        "综合执法",
        0.04,
        0.0,
        0.0,
        ("商贸", "拍卖", "二手车交易市场", "商标代理", "直销"),
        (),
        (
            _g(
                "专项执法",
                "商标使用行为;专利标识标注行为;侵犯注册商标专用权行为||*;直销企业经营行为;"
                "拍卖企业经营行为;合同格式条款;七日无理由退货落实情况;野生动物经营利用行为||*;"
                "二手车交易市场经营行为",
                (("检查", "经营行为是否合法合规", ON_SITE),),
                "《中华人民共和国商标法》第六十二条;《中华人民共和国专利法》;"
                "《中华人民共和国消费者权益保护法》;《直销管理条例》",
            ),
        ),
        "XY",
        60,
        0,
    ),
)

# Departments without items or targets: the people who read and assess.
OFFICES = (
    ("FG", "政策法规科", "科室", "reviewer"),
    ("JJ", "驻局纪检监察组", "科室", "supervisor"),
)

RULES: dict[str, dict[str, Any]] = {
    "TZ": {"not_own_district": True, "employment_within_years": 3},
    "SC": {"employment_within_years": 2},
    "JY": {"employment_within_years": 2},
    "ZL": {"not_own_district": True, "employment_within_years": 3},
    "JL": {"not_own_district": True},
    "ZD": {"not_own_district": True, "employment_within_years": 5},
}

TAGS = (
    ("投诉较多", 30),
    ("重点监管", 40),
    ("新设立", 30),
    ("连锁经营", 20),
    ("曾受行政处罚", 20),
    ("学校周边", 10),
)

RELATIONS = (
    ("近亲属", 30, "配偶的兄弟任该单位法定代表人", "父亲为该单位股东"),
    ("曾任职", 25, "曾在该单位任质量负责人", "曾在该单位从事财务工作"),
    ("持股", 10, "持有该单位股份", "配偶持有该单位股份"),
    ("纠纷", 15, "与该单位经营者存在民事纠纷", "与该单位存在房屋租赁纠纷"),
    ("其他", 5, "与该单位负责人为同学关系", "本人曾为该单位提供咨询服务"),
)

# --- generation -------------------------------------------------------------------------------


@dataclass
class Plan:
    """The whole jurisdiction as data; `generate` is pure."""

    seed: int
    departments: list[dict[str, Any]]
    users: list[dict[str, Any]]
    items: list[dict[str, Any]]
    targets: list[dict[str, str]]
    updates: list[dict[str, str]]
    inspectors: list[dict[str, Any]]
    experts: list[dict[str, Any]]
    declarations: list[dict[str, Any]]
    rules: dict[str, dict[str, Any]]

    def final_targets(self) -> list[dict[str, str]]:
        """The registry after the reclassification: each identifier's last row."""
        rows = {row["identifier"]: row for row in self.targets}
        for row in self.updates:
            rows[row["identifier"]] = row
        return list(rows.values())


def _rng(seed: int, part: str) -> random.Random:
    return random.Random(f"ssj-demo:{seed}:{part}")


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _person(rng: random.Random) -> str:
    given = "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2, 2))))
    return rng.choice(SURNAMES) + given


def _brand(rng: random.Random) -> str:
    if rng.random() < 0.08:
        return rng.choice(BRANDS_TWO) + rng.choice(BRAND)
    first = rng.choice(BRAND)
    second = rng.choice(BRAND)
    while second == first:
        second = rng.choice(BRAND)
    return first + second


def _district(rng: random.Random) -> District:
    return rng.choices(DISTRICTS, weights=[d.weight for d in DISTRICTS])[0]


def _address(rng: random.Random, district: District) -> str:
    address = f"{district.address_prefix}{rng.choice(district.roads)}{rng.randint(1, 399)}号"
    roll = rng.random()
    if roll < 0.3:
        address += f"{rng.randint(1, 30)}幢{rng.randint(1, 28)}{rng.randint(1, 20):02d}室"
    elif roll < 0.4:
        address += f"{rng.choice('ABCDE')}区{rng.randint(1, 12)}号厂房"
    return address


# Identifiers are a bijection of the target's index (an affine permutation of a code space), so
# they look random yet never repeat, even across files generated separately with different
# `first` offsets (the benchmark's import file and its million-target fill).
_BODY_SPACE = len(USCC_CHARSET) ** 6
_BODY_STEP = 387_420_489  # 3**18, coprime to 31**6
_BIRTH_FIRST = date(1960, 1, 1).toordinal()
_BIRTH_DAYS = date(2003, 12, 31).toordinal() - _BIRTH_FIRST + 1
_RESIDENT_SPACE = len(BIRTH_PLACES) * _BIRTH_DAYS * 999
_RESIDENT_STEP = 1_000_003  # prime, coprime to the space
assert math.gcd(_BODY_STEP, _BODY_SPACE) == 1 and math.gcd(_RESIDENT_STEP, _RESIDENT_SPACE) == 1


@functools.cache
def _offset(seed: int, space: int) -> int:
    return _rng(seed, "identifiers").randrange(space)


def _uscc(seed: int, authority: str, region: str, n: int) -> str:
    """A valid USCC; the organisation-code body is MA + six characters, as issued since 2015."""
    index = (_BODY_STEP * n + _offset(seed, _BODY_SPACE)) % _BODY_SPACE
    chars = []
    for _ in range(6):
        index, digit = divmod(index, len(USCC_CHARSET))
        chars.append(USCC_CHARSET[digit])
    body = "MA" + "".join(chars)
    return make_uscc(authority + region + body + organization_code_check_character(body))


def _resident_id(seed: int, n: int) -> str:
    """A valid 18-digit resident id (GB 11643 check digit) of someone born 1960-2003."""
    index = (_RESIDENT_STEP * n + _offset(seed, _RESIDENT_SPACE)) % _RESIDENT_SPACE
    index, place = divmod(index, len(BIRTH_PLACES))
    serial, day = divmod(index, _BIRTH_DAYS)
    born = date.fromordinal(_BIRTH_FIRST + day)
    body = f"{BIRTH_PLACES[place]}{born:%Y%m%d}{serial + 1:03d}"
    return body + resident_id_check_character(body)


def _enterprise_name(rng: random.Random, district: District, industry: str) -> str:
    brand = _brand(rng)
    roll = rng.random()
    if roll < 0.35:
        return f"{district.prefix}{brand}{industry}有限公司"
    if roll < 0.75:
        return f"常州{brand}{industry}有限公司"
    if roll < 0.85:
        return f"江苏{brand}{industry}有限公司"
    if roll < 0.88:
        return f"常州{brand}{industry}股份有限公司"
    if roll < 0.93:
        return f"{district.prefix}{brand}{industry}厂"
    return (
        f"江苏{brand}{industry}有限公司{district.name.removesuffix('市').removesuffix('区')}分公司"
    )


def _individual_name(rng: random.Random, district: District, shop: str) -> str:
    roll = rng.random()
    if roll < 0.5:
        return f"{district.prefix}{_brand(rng)}{shop}"
    if roll < 0.8:
        return f"{district.prefix}{rng.choice(SURNAMES)}记{shop}"
    return f"{district.prefix}{_person(rng)}{shop}"


def _items(seed: int) -> list[dict[str, Any]]:
    rng = _rng(seed, "items")
    items: list[dict[str, Any]] = []
    for section in SECTIONS:
        number = 0
        for group in section.groups:
            for subject, target_type, key in group.subjects:
                for suffix, content, methods in group.checks:
                    number += 1
                    extra = rng.sample(
                        group.bases[1:], k=min(len(group.bases) - 1, rng.choice((1, 1, 2)))
                    )
                    joint = section.partner is not None and rng.random() < 0.12
                    items.append(
                        {
                            "code": f"{section.short}-{number:03d}",
                            "department": section.code,
                            "category": group.category,
                            "name": subject + suffix,
                            "target_type": target_type,
                            "item_class": "重点检查事项" if key else "一般检查事项",
                            "methods": methods,
                            "subject": f"{BUREAU_NAME}（{section.name}）",
                            "legal_bases": [group.bases[0], *extra],
                            "content": f"{content}。",
                            "required_specialties": section.specialty
                            if key or rng.random() < 0.3
                            else "",
                            "default_ratio": str(
                                rng.choice((10, 15, 20, 30))
                                if key
                                else rng.choice((3, 5, 5, 5, 8, 10))
                            ),
                            "yearly_frequency": "2" if key else "1",
                            "cooperating_departments": f"{BUREAU}-{section.partner}"
                            if joint
                            else "",
                        }
                    )
    return items


def iter_targets(
    seed: int, count: int, items: list[dict[str, Any]] | None = None, first: int = 0
) -> Iterator[dict[str, str]]:
    """Targets number `first` to `first + count - 1`, as rows of the targets file.

    Each `first` has its own random stream; identifiers derive from the number, so batches with
    disjoint numbers never share one. Streams rows: a million targets need no list.
    """
    rng = _rng(seed, f"targets:{first}")
    by_section: dict[tuple[str, str], list[str]] = {}
    for item in items if items is not None else _items(seed):
        by_section.setdefault((item["department"], item["target_type"]), []).append(item["code"])
    weights = [s.share for s in SECTIONS]
    products = {
        s.code: [name for g in s.groups for name, kind, _ in g.subjects if kind == "产品"]
        for s in SECTIONS
    }
    for n in range(first, first + count):
        section = rng.choices(SECTIONS, weights=weights)[0]
        district = _district(rng)
        roll = rng.random()
        if roll < section.product_share:
            target_type = "产品"
        elif roll < section.product_share + section.individual_share:
            target_type = "个体工商户"
        else:
            target_type = "企业"
        registrar = CITY if rng.random() < 0.1 and district.code != "320481" else district.code
        if target_type == "企业":
            identifier, id_kind = _uscc(seed, "91", registrar, n), "uscc"
            name = _enterprise_name(rng, district, rng.choice(section.industries))
        elif target_type == "个体工商户":
            if rng.random() < 0.7:
                identifier, id_kind = _resident_id(seed, n), "resident_id"
            else:
                identifier, id_kind = _uscc(seed, "92", district.code, n), "uscc"
            name = _individual_name(rng, district, rng.choice(section.shops))
        else:
            identifier, id_kind = f"CP{REFERENCE_DATE.year}-{district.code}-{n:07d}", "product"
            made = REFERENCE_DATE - timedelta(days=rng.randint(10, 400))
            maker = _enterprise_name(rng, district, rng.choice(section.industries))
            product = rng.choice(products[section.code])
            name = f"{maker}生产的{product}（批次{made:%Y%m%d}）"
        applicable = by_section.get((section.code, target_type), [])
        chosen = rng.sample(applicable, k=min(len(applicable), rng.randint(1, 3)))
        tags = [t for t, per_thousand in TAGS if rng.random() < per_thousand / 1000]
        status = _weighted(rng, STATUS_WEIGHTS) if target_type != "产品" else "存续"
        yield {
            "identifier": identifier,
            "id_kind": id_kind,
            "name": name,
            "address": _address(rng, district),
            "region_code": district.code,
            "target_type": target_type,
            "department": section.code,
            "credit_class": _weighted(rng, CREDIT_WEIGHTS) + "类",
            "status": status,
            "applicable_items": "、".join(sorted(chosen)),
            "tags": "、".join(tags),
        }


def _updates(
    seed: int, initial: list[dict[str, str]], new: list[dict[str, str]]
) -> list[dict[str, str]]:
    """The yearly reclassification: changed classes and statuses, then new registrations."""
    rng = _rng(seed, "updates")
    changed: list[dict[str, str]] = []
    moves = {"A": "B", "B": "AC", "C": "BD", "D": "C"}
    for row in initial:
        if row["status"] != "存续" or row["target_type"] == "产品":
            continue
        roll = rng.random()
        if roll < RECLASSIFIED_SHARE:
            credit = rng.choice(moves[row["credit_class"][0]]) + "类"
            changed.append({**row, "credit_class": credit})
        elif roll < RECLASSIFIED_SHARE + 0.004:
            changed.append({**row, "status": "注销"})
        elif roll < RECLASSIFIED_SHARE + 0.010:
            changed.append({**row, "status": "经营异常"})
        elif roll < RECLASSIFIED_SHARE + 0.015 and "投诉较多" not in row["tags"]:
            tags = [t for t in row["tags"].split("、") if t] + ["投诉较多"]
            changed.append({**row, "tags": "、".join(tags)})
    fresh = []
    for row in new:
        tags = [t for t in row["tags"].split("、") if t and t != "新设立"] + ["新设立"]
        fresh.append({**row, "status": "存续", "tags": "、".join(tags)})
    return changed + fresh


def _certificate_window(rng: random.Random, expired: bool, years: int) -> tuple[date, date]:
    if expired:
        end = REFERENCE_DATE - timedelta(days=rng.randint(1, 400))
        return end - timedelta(days=365 * years), end
    start = REFERENCE_DATE - timedelta(days=rng.randint(30, 365 * years - 60))
    return start, start + timedelta(days=365 * years)


def _people(seed: int, pool: str) -> list[dict[str, Any]]:
    rng = _rng(seed, pool)
    rows: list[dict[str, Any]] = []
    serial = 0
    for section in SECTIONS:
        count = section.inspectors if pool == "inspectors" else section.experts
        for _ in range(count):
            serial += 1
            expired = rng.random() < 0.06
            start, end = _certificate_window(rng, expired, 5 if pool == "inspectors" else 3)
            status, leave_from, leave_to = "在岗", None, None
            roll = rng.random()
            if roll < 0.06:
                status = "休假"
                leave_from = REFERENCE_DATE + timedelta(days=rng.randint(-20, 60))
                leave_to = leave_from + timedelta(days=rng.randint(7, 120))
            elif roll < 0.08:
                status = "暂停执法"
            elif roll < 0.10 and pool == "inspectors":
                status = rng.choice(("调离", "退休"))
            if pool == "inspectors":
                certificate = f"3204{start.year}{serial:05d}"
                specialties = [section.specialty]
                if rng.random() < 0.35:
                    other = rng.choice(SECTIONS).specialty
                    if other not in specialties:
                        specialties.append(other)
                kind = "执法检查人员"
            else:
                certificate = f"CZZJ{start.year}{serial:04d}"
                specialties = [section.specialty, rng.choice(section.expert_specialties)]
                kind = "专家"
            rows.append(
                {
                    "certificate_no": certificate,
                    "name": _person(rng),
                    "department": section.code,
                    "pool": kind,
                    "specialties": "、".join(specialties),
                    "certificate_valid_from": start,
                    "certificate_valid_to": end,
                    "status": status,
                    "leave_from": leave_from,
                    "leave_to": leave_to,
                    "home_region_code": _district(rng).code,
                }
            )
    return rows


def _organisation(seed: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rng = _rng(seed, "organisation")
    departments = [
        {
            "code": s.code,
            "name": s.name,
            "level": "city",
            "kind": s.kind,
            "parent": BUREAU,
            "region_code": CITY,
        }
        for s in SECTIONS
    ]
    departments += [
        {
            "code": f"{BUREAU}-{short}",
            "name": name,
            "level": "city",
            "kind": kind,
            "parent": BUREAU,
            "region_code": CITY,
        }
        for short, name, kind, _ in OFFICES
    ]
    users: list[dict[str, Any]] = []
    for s in SECTIONS:
        prefix = s.short.lower()
        for username, role in (
            (f"{prefix}.operator", "operator"),
            (f"{prefix}.leader", "leader"),
            (f"{prefix}.inspector1", "inspector"),
            (f"{prefix}.inspector2", "inspector"),
        ):
            users.append(
                {"username": username, "name": _person(rng), "department": s.code, "roles": [role]}
            )
    for short, _, _, role in OFFICES:
        for n in (1, 2):
            users.append(
                {
                    "username": f"{short.lower()}.{role}{n}",
                    "name": _person(rng),
                    "department": f"{BUREAU}-{short}",
                    "roles": [role],
                }
            )
    return departments, users


def _declarations(
    seed: int, targets: list[dict[str, str]], inspectors: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    rng = _rng(seed, "declarations")
    count = min(60, max(10, len(targets) // 400))
    weights = [w for _, w, _, _ in RELATIONS]
    chosen: dict[tuple[str, str], dict[str, Any]] = {}
    while len(chosen) < count:
        inspector = rng.choice(inspectors)
        same = [
            t
            for t in rng.sample(targets, k=min(40, len(targets)))
            if t["department"] == inspector["department"]
        ]
        target = same[0] if same else rng.choice(targets)
        relation, _, *reasons = rng.choices(RELATIONS, weights=weights)[0]
        start = REFERENCE_DATE - timedelta(days=rng.randint(30, 3000))
        end = None
        if relation == "曾任职":
            end = start + timedelta(days=rng.randint(200, 1500))
            end = min(end, REFERENCE_DATE - timedelta(days=1))
        key = (inspector["certificate_no"], target["identifier"])
        chosen.setdefault(
            key,
            {
                "certificate_no": inspector["certificate_no"],
                "target_identifier": target["identifier"],
                "relation": relation,
                "valid_from": start.isoformat(),
                "valid_to": end.isoformat() if end else None,
                "reason": rng.choice(reasons),
                "department": inspector["department"],
            },
        )
    return list(chosen.values())


def generate(targets: int = DEFAULT_TARGETS, seed: int = DEFAULT_SEED) -> Plan:
    """The jurisdiction as data: pure, and the same for the same arguments everywhere."""
    if targets < MIN_TARGETS:
        raise ValidationError(
            f"检查对象数量至少为 {MIN_TARGETS}",
            f"the number of targets must be at least {MIN_TARGETS}",
        )
    departments, users = _organisation(seed)
    items = _items(seed)
    new_count = max(1, round(targets * NEW_SHARE))
    initial = list(iter_targets(seed, targets - new_count, items))
    new = list(iter_targets(seed, new_count, items, first=targets - new_count))
    updates = _updates(seed, initial, new)
    inspectors = _people(seed, "inspectors")
    experts = _people(seed, "experts")
    active = [p for p in inspectors if p["status"] == "在岗"]
    declarations = _declarations(seed, initial, active)
    rules = {f"{BUREAU}-{short}": dict(r) for short, r in RULES.items()}
    return Plan(
        seed, departments, users, items, initial, updates, inspectors, experts, declarations, rules
    )


# --- files -------------------------------------------------------------------------------------

TARGET_HEADER = {
    "identifier": "统一社会信用代码/标识",
    "id_kind": "标识类型",
    "name": "名称",
    "address": "地址",
    "region_code": "行政区划代码",
    "target_type": "对象类型",
    "department": "责任部门",
    "credit_class": "信用风险分类",
    "status": "登记状态",
    "applicable_items": "适用抽查事项",
    "tags": "标签",
}

ITEM_HEADER = {
    "code": "事项编码",
    "category": "抽查类别",
    "name": "抽查事项名称",
    "target_type": "检查对象类型",
    "item_class": "事项类别",
    "methods": "检查方式",
    "subject": "检查主体",
    "legal_bases": "抽查依据",
    "content": "检查内容",
    "required_specialties": "所需专业资质",
    "default_ratio": "抽查比例（%）",
    "yearly_frequency": "抽查频次（次/年）",
    "department": "部门编码",
    "cooperating_departments": "配合部门",
}

PEOPLE_HEADER = {
    "certificate_no": "执法证号",
    "name": "姓名",
    "department": "所属部门",
    "pool": "人员类别",
    "specialties": "专业领域",
    "certificate_valid_from": "证件有效期起",
    "certificate_valid_to": "证件有效期止",
    "status": "在岗状态",
    "leave_from": "休假开始",
    "leave_to": "休假结束",
    "home_region_code": "居住地行政区划代码",
}

FIXED_TIME = (2026, 1, 1, 0, 0, 0)
_CORE_TIMES = re.compile(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)")


def write_targets_csv(path: Path, rows: Iterable[dict[str, str]]) -> int:
    """Rows in the targets file format: GBK CSV with Excel's CRLF line ends; returns the count."""
    count = 0
    with path.open("w", encoding="gbk", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(TARGET_HEADER.values())
        for row in rows:
            writer.writerow([row[k] for k in TARGET_HEADER])
            count += 1
    return count


def _save_workbook(workbook: openpyxl.Workbook, path: Path) -> None:
    """Save with fixed timestamps and stored (uncompressed) entries: the same bytes everywhere.

    openpyxl stamps docProps/core.xml and every ZIP entry with the current time, and deflate
    output may differ between zlib builds.
    """
    buffer = io.BytesIO()
    workbook.save(buffer)
    buffer.seek(0)
    stamp = b"\\g<1>2026-01-01T00:00:00Z\\g<3>"
    with zipfile.ZipFile(buffer) as source, zipfile.ZipFile(path, "w") as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = _CORE_TIMES.sub(stamp, data)
            entry = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME)
            entry.compress_type = zipfile.ZIP_STORED
            entry.external_attr = 0o600 << 16
            target.writestr(entry, data)


def _write_items(path: Path, items: list[dict[str, Any]]) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "随机抽查事项清单"
    columns = list(ITEM_HEADER)
    sheet.append([f"{BUREAU_NAME}随机抽查事项清单（{REFERENCE_DATE.year}年版）"])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(columns))
    sheet["A1"].font = Font(bold=True, size=14)
    sheet["A1"].alignment = Alignment(horizontal="center")
    sheet.append(list(ITEM_HEADER.values()))
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    basis = columns.index("legal_bases")
    category = columns.index("category") + 1
    group_start, group_name = 3, None
    for item in items:
        row = sheet.max_row + 1
        if item["category"] != group_name:
            if group_name is not None and row - 1 > group_start:
                sheet.merge_cells(
                    start_row=group_start,
                    start_column=category,
                    end_row=row - 1,
                    end_column=category,
                )
            group_start, group_name = row, item["category"]
        values: list[Any] = []
        for key in columns:
            value = item[key]
            if key == "legal_bases":
                value = value[0]
            elif key == "category" and row != group_start:
                value = None  # covered by the merge
            elif key in ("default_ratio", "yearly_frequency"):
                value = int(value)
            values.append(value or None)
        sheet.append(values)
        for extra in item["legal_bases"][1:]:
            continuation: list[Any] = [None] * len(columns)
            continuation[basis] = extra
            sheet.append(continuation)
    last = sheet.max_row
    if group_name is not None and last > group_start:
        sheet.merge_cells(
            start_row=group_start, start_column=category, end_row=last, end_column=category
        )
    for letter, width in zip(
        "ABCDEFGHIJKLMN", (10, 16, 36, 12, 14, 20, 30, 50, 40, 14, 12, 14, 14, 14), strict=True
    ):
        sheet.column_dimensions[letter].width = width
    _save_workbook(workbook, path)


def _write_people(path: Path, title: str, rows: list[dict[str, Any]]) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = title
    sheet.append([f"{BUREAU_NAME}{title}"])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(PEOPLE_HEADER))
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append(list(PEOPLE_HEADER.values()))
    for row in rows:
        sheet.append([row[k] for k in PEOPLE_HEADER])
    for r in range(3, sheet.max_row + 1):
        for letter in "FGIJ":
            sheet[f"{letter}{r}"].number_format = "yyyy-mm-dd"
    _save_workbook(workbook, path)


def write_files(plan: Plan, directory: Path) -> dict[str, Path]:
    """Write the official-format files into `directory`; returns kind -> path."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {kind: directory / name for kind, name in FILES.items()}
    _write_items(paths["items"], plan.items)
    write_targets_csv(paths["targets"], plan.targets)
    write_targets_csv(paths["update"], plan.updates)
    _write_people(paths["inspectors"], "执法检查人员名录库", plan.inspectors)
    _write_people(paths["experts"], "专家名录库", plan.experts)
    return paths


# --- loading through the real services ---------------------------------------------------------


@dataclass
class Summary:
    """What the jurisdiction holds once built (from the plan), and what this build wrote."""

    seed: int
    directory: Path
    files: dict[str, Path]
    departments: int
    users: dict[str, int]
    items: int
    key_items: int
    joint_items: int
    targets: int
    targets_by_credit_class: dict[str, int]
    targets_by_type: dict[str, int]
    targets_by_status: dict[str, int]
    inspectors: int
    experts: int
    expired_certificates: int
    on_leave: int
    conflicts: int
    rule_sets: int
    reclassified: int
    imports: list[ImportReport] = field(default_factory=list)
    events_written: int = 0
    seconds: float = 0.0

    @property
    def written(self) -> bool:
        return self.events_written > 0


def summarise(plan: Plan, directory: Path, files: dict[str, Path]) -> Summary:
    final = plan.final_targets()
    people = plan.inspectors + plan.experts
    roles = Counter(role for user in plan.users for role in user["roles"])
    roles["admin"] += 1
    return Summary(
        seed=plan.seed,
        directory=directory,
        files=files,
        departments=len(plan.departments) + 1,
        users=dict(sorted(roles.items())),
        items=len(plan.items),
        key_items=sum(1 for i in plan.items if i["item_class"] == "重点检查事项"),
        joint_items=sum(1 for i in plan.items if i["cooperating_departments"]),
        targets=len(final),
        targets_by_credit_class=dict(sorted(Counter(t["credit_class"][0] for t in final).items())),
        targets_by_type=dict(sorted(Counter(TYPE_VALUES[t["target_type"]] for t in final).items())),
        targets_by_status=dict(sorted(Counter(STATUS_VALUES[t["status"]] for t in final).items())),
        inspectors=len(plan.inspectors),
        experts=len(plan.experts),
        expired_certificates=sum(1 for p in people if p["certificate_valid_to"] < REFERENCE_DATE),
        on_leave=sum(1 for p in people if p["status"] == "休假"),
        conflicts=len(plan.declarations),
        rule_sets=len(plan.rules),
        reclassified=len(plan.updates) - (len(final) - len(plan.targets)),
    )


class _Loader:
    def __init__(self, services: Services, progress: Progress | None) -> None:
        self.s = services
        self.registry = RegistryService(services)
        self.progress = progress
        self.reports: list[ImportReport] = []

    def tick(self, phase: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(phase, done, total)

    def admin(self) -> Principal:
        self.s.refresh()
        if not self.s.queries.list("users", limit=1).total:
            self.registry.bootstrap(ADMIN, "系统管理员", BUREAU, BUREAU_NAME, CITY)
        found = self.s.queries.get("users", [ADMIN])
        if found is None:
            # Someone bootstrapped this ledger with another administrator: use any active one.
            admins = [
                u
                for u in self.s.queries.states("users")
                if u["active"] and Role.ADMIN.value in u["roles"]
            ]
            if not admins:
                raise ValidationError(
                    "账本中已有用户，但没有可用的管理员", "the ledger has users but no active admin"
                )
            return self.s.principal(sorted(a["username"] for a in admins)[0])
        return self.s.principal(ADMIN)

    def organisation(
        self, departments: list[dict[str, Any]], users: list[dict[str, Any]], admin: Principal
    ) -> None:
        phase = "组织机构 / organisation"
        total = 1 + len(departments) + len(users)
        if not self.s.department_exists(BUREAU):
            self.registry.add_department(admin, BUREAU, BUREAU_NAME, "city", "局", None, CITY)
        done = 1
        for dept in departments:
            if not self.s.department_exists(dept["code"]):
                self.registry.add_department(
                    admin,
                    dept["code"],
                    dept["name"],
                    dept["level"],
                    dept["kind"],
                    dept["parent"],
                    dept["region_code"],
                )
            done += 1
            self.tick(phase, done, total)
        self.s.refresh()
        for user in users:
            if self.s.queries.get("users", [user["username"]]) is None:
                self.registry.add_user(
                    admin, user["username"], user["name"], user["department"], user["roles"]
                )
            done += 1
            self.tick(phase, done, total)

    def load(self, admin: Principal, kind: str, path: Path, phase: str) -> ImportReport:
        report = import_file(
            self.s, admin, kind, path, progress=lambda d, t: self.tick(phase, d, t)
        )
        if report.problems or not report.written:
            shown = "; ".join(p.en for p in report.problems[:3])
            raise ValidationError(
                f"示例数据 {path.name} 导入失败：{'；'.join(p.zh for p in report.problems[:3])}",
                f"demo file {path.name} did not import: {shown}",
            )
        self.reports.append(report)
        return report

    def targets(self, plan: Plan, admin: Principal, files: dict[str, Path]) -> None:
        self.s.refresh()
        present = {
            r["identifier"] for r in self.s.queries.states("targets", columns=("identifier",))
        }
        if any(row["identifier"] not in present for row in plan.targets):
            self.load(admin, "targets", files["targets"], "检查对象 / targets")
        # The reclassification is imported once. Its last row is a new registration and the
        # importer saves in file order, so that target present means the file was applied.
        # Importing it again would undo what happened to its targets since: an inspection that
        # finds a target unreachable lists it as abnormal, and the file still says 存续.
        if plan.updates[-1]["identifier"] not in present:
            self.load(admin, "targets", files["update"], "信用分类调整 / reclassification")

    def rules(self, plan: Plan) -> None:
        self.s.refresh()
        for department, rules in plan.rules.items():
            current = self.s.queries.get("conflict_rules", [department])
            if current is not None and current["rules"] == rules:
                continue
            leader = self.s.principal(f"{department.rsplit('-', 1)[1].lower()}.leader")
            self.registry.set_conflict_rules(leader, department, rules)

    def declarations(self, plan: Plan) -> None:
        phase = "利害关系 / conflicts"
        self.s.refresh()
        operators: dict[str, Principal] = {}
        for done, d in enumerate(plan.declarations, start=1):
            key = [d["certificate_no"], d["target_identifier"]]
            if self.s.queries.get("declarations", key) is None:
                department = d["department"]
                if department not in operators:
                    short = department.rsplit("-", 1)[1].lower()
                    operators[department] = self.s.principal(f"{short}.operator")
                self.registry.declare_conflict(operators[department], d)
            self.tick(phase, done, len(plan.declarations))


def build(
    services: Services,
    directory: Path,
    *,
    targets: int = DEFAULT_TARGETS,
    seed: int = DEFAULT_SEED,
    progress: Progress | None = None,
) -> Summary:
    """Generate the jurisdiction, write its files into `directory` and load it (idempotent).

    The ledger must be initialised. Returns the summary of what the jurisdiction holds; its
    `imports` and `events_written` say what this build changed (nothing, on a second build).
    """
    started = time.perf_counter()
    size = services.ledger.size()
    if progress is not None:
        progress("生成数据 / generating", 0, 1)
    plan = generate(targets, seed)
    files = write_files(plan, Path(directory))
    if progress is not None:
        progress("生成数据 / generating", 1, 1)
    loader = _Loader(services, progress)
    admin = loader.admin()
    loader.organisation(plan.departments, plan.users, admin)
    loader.load(admin, "items", files["items"], "事项清单 / items")
    loader.targets(plan, admin, files)
    loader.load(admin, "inspectors", files["inspectors"], "执法人员 / inspectors")
    loader.load(admin, "inspectors", files["experts"], "专家 / experts")
    loader.rules(plan)
    loader.declarations(plan)
    phase = "投影 / projections"
    services.runner.catch_up(progress=lambda d, t: loader.tick(phase, d, t))
    summary = summarise(plan, Path(directory), files)
    summary.imports = loader.reports
    summary.events_written = services.ledger.size() - size
    summary.seconds = time.perf_counter() - started
    return summary


def load_organisation(services: Services, seed: int = DEFAULT_SEED) -> Principal:
    """Only the bureau, its sections and its users (idempotent); returns the administrator."""
    loader = _Loader(services, None)
    admin = loader.admin()
    departments, users = _organisation(seed)
    loader.organisation(departments, users, admin)
    return admin


def reclassification_seq(services: Services) -> int | None:
    """The last seq before the first change to a registered target (the registry as first
    imported), or None if no target ever changed: for as-of examples."""
    rows = services.store.query("SELECT MIN(to_seq) FROM targets WHERE to_seq IS NOT NULL")
    first = rows[0][0] if rows else None
    return None if first is None else int(first) - 1
