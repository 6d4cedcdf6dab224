"""Realistic demo data for Fieldbook: customers, contacts and visits.

Pure functions of a seeded ``random.Random`` (and an injected ``now``): no
Flask, no database, no wall clock, so the same seed always gives the same
data. Callers turn the returned dicts into records through the normal APIs.
"""

from __future__ import annotations

import json
import random
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

CHINA_TZ = timezone(timedelta(hours=8))

#: Customer levels: code -> labels and the default reminder interval in days.
LEVELS: dict[str, dict[str, Any]] = {
    "key": {"zh": "重要客户", "en": "Key customer", "reminder_days": 3},
    "normal": {"zh": "普通客户", "en": "Normal customer", "reminder_days": 7},
    "potential": {"zh": "潜在客户", "en": "Potential customer", "reminder_days": 14},
}

#: Where a customer came from.
SOURCES: dict[str, dict[str, str]] = {
    "referral": {"zh": "客户介绍", "en": "Referral"},
    "exhibition": {"zh": "展会", "en": "Trade show"},
    "website": {"zh": "网站", "en": "Website"},
    "cold_call": {"zh": "电话开发", "en": "Cold call"},
    "advertising": {"zh": "广告", "en": "Advertising"},
    "partner": {"zh": "合作伙伴", "en": "Partner"},
}

#: Industry code -> labels and the words used to build company names.
INDUSTRIES: dict[str, dict[str, Any]] = {
    "machinery": {"zh": "机械制造", "en": "Machinery", "words": ["机械", "重工", "机电", "精密机械"]},
    "electronics": {"zh": "电子", "en": "Electronics", "words": ["电子", "电子科技", "光电", "微电子"]},
    "software": {"zh": "软件与信息技术", "en": "Software & IT", "words": ["信息技术", "软件", "网络科技", "数据科技"]},
    "chemicals": {"zh": "化工", "en": "Chemicals", "words": ["化工", "新材料", "化学"]},
    "textiles": {"zh": "纺织服装", "en": "Textiles", "words": ["纺织", "服饰", "织造"]},
    "construction": {"zh": "建筑工程", "en": "Construction", "words": ["建设", "建筑工程", "装饰工程"]},
    "trading": {"zh": "商贸", "en": "Trading", "words": ["商贸", "贸易", "进出口"]},
    "food": {"zh": "食品", "en": "Food", "words": ["食品", "农业科技", "饮品"]},
    "medical": {"zh": "医疗器械", "en": "Medical devices", "words": ["医疗器械", "生物科技", "医药"]},
    "logistics": {"zh": "物流", "en": "Logistics", "words": ["物流", "供应链", "运输"]},
    "auto_parts": {"zh": "汽车零部件", "en": "Auto parts", "words": ["汽车配件", "汽车零部件", "车业"]},
    "energy": {"zh": "新能源", "en": "New energy", "words": ["新能源", "能源科技", "光伏"]},
}

#: Province code -> labels and cities (zh, en, telephone area code).
PROVINCES: dict[str, dict[str, Any]] = {
    "beijing": {"zh": "北京市", "en": "Beijing", "cities": [("北京", "Beijing", "010")]},
    "shanghai": {"zh": "上海市", "en": "Shanghai", "cities": [("上海", "Shanghai", "021")]},
    "tianjin": {"zh": "天津市", "en": "Tianjin", "cities": [("天津", "Tianjin", "022")]},
    "chongqing": {"zh": "重庆市", "en": "Chongqing", "cities": [("重庆", "Chongqing", "023")]},
    "zhejiang": {"zh": "浙江省", "en": "Zhejiang", "cities": [
        ("杭州", "Hangzhou", "0571"), ("宁波", "Ningbo", "0574"),
        ("温州", "Wenzhou", "0577"), ("绍兴", "Shaoxing", "0575")]},
    "jiangsu": {"zh": "江苏省", "en": "Jiangsu", "cities": [
        ("南京", "Nanjing", "025"), ("苏州", "Suzhou", "0512"),
        ("无锡", "Wuxi", "0510"), ("常州", "Changzhou", "0519")]},
    "guangdong": {"zh": "广东省", "en": "Guangdong", "cities": [
        ("广州", "Guangzhou", "020"), ("深圳", "Shenzhen", "0755"),
        ("东莞", "Dongguan", "0769"), ("佛山", "Foshan", "0757")]},
    "shandong": {"zh": "山东省", "en": "Shandong", "cities": [
        ("济南", "Jinan", "0531"), ("青岛", "Qingdao", "0532"), ("烟台", "Yantai", "0535")]},
    "fujian": {"zh": "福建省", "en": "Fujian", "cities": [
        ("福州", "Fuzhou", "0591"), ("厦门", "Xiamen", "0592"), ("泉州", "Quanzhou", "0595")]},
    "hubei": {"zh": "湖北省", "en": "Hubei", "cities": [
        ("武汉", "Wuhan", "027"), ("宜昌", "Yichang", "0717"), ("襄阳", "Xiangyang", "0710")]},
    "hunan": {"zh": "湖南省", "en": "Hunan", "cities": [
        ("长沙", "Changsha", "0731"), ("株洲", "Zhuzhou", "0731"), ("岳阳", "Yueyang", "0730")]},
    "sichuan": {"zh": "四川省", "en": "Sichuan", "cities": [
        ("成都", "Chengdu", "028"), ("绵阳", "Mianyang", "0816"), ("宜宾", "Yibin", "0831")]},
    "henan": {"zh": "河南省", "en": "Henan", "cities": [
        ("郑州", "Zhengzhou", "0371"), ("洛阳", "Luoyang", "0379")]},
    "anhui": {"zh": "安徽省", "en": "Anhui", "cities": [
        ("合肥", "Hefei", "0551"), ("芜湖", "Wuhu", "0553")]},
    "hebei": {"zh": "河北省", "en": "Hebei", "cities": [
        ("石家庄", "Shijiazhuang", "0311"), ("唐山", "Tangshan", "0315"), ("保定", "Baoding", "0312")]},
    "shaanxi": {"zh": "陕西省", "en": "Shaanxi", "cities": [
        ("西安", "Xi'an", "029"), ("宝鸡", "Baoji", "0917")]},
    "liaoning": {"zh": "辽宁省", "en": "Liaoning", "cities": [
        ("沈阳", "Shenyang", "024"), ("大连", "Dalian", "0411")]},
}

#: Visit methods (contact record kinds).
VISIT_METHODS: dict[str, dict[str, str]] = {
    "phone": {"zh": "电话", "en": "Phone"},
    "email": {"zh": "电子邮件", "en": "E-mail"},
    "im": {"zh": "即时通讯", "en": "Instant message"},
    "onsite": {"zh": "上门拜访", "en": "On-site visit"},
    "other": {"zh": "其他", "en": "Other"},
}

#: Contact titles (zh, en).
TITLES: list[tuple[str, str]] = [
    ("总经理", "General manager"), ("副总经理", "Deputy general manager"),
    ("采购经理", "Purchasing manager"), ("采购专员", "Purchasing officer"),
    ("财务经理", "Finance manager"), ("技术总监", "Technical director"),
    ("生产主管", "Production supervisor"), ("行政主管", "Office manager"),
    ("销售总监", "Sales director"), ("设备工程师", "Equipment engineer"),
]

SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢")
GIVEN_CHARS = (
    "伟芳娜敏静丽强磊军洋勇艳杰涛明超秀霞平刚桂英华建国志鹏辉斌宇浩凯健俊帆晨"
    "婷雪琳欣悦嘉怡佳颖晓东海波宁峰亮红梅玲倩云飞鑫瑞泽宏博文"
)
# Two-character brand parts, as in "明达", "华信", "恒通".
BRAND_FIRST = "明华恒鼎瑞中新宏金永嘉天盛长东汇博德正信兴诚凯泰远福安"
BRAND_SECOND = "达信通源昌泰润丰康科宇晟隆辉捷锐创联成邦和越航力升"
COMPANY_SUFFIXES = ("有限公司", "有限公司", "有限公司", "股份有限公司", "有限责任公司")

STREET_WORDS = ("人民", "解放", "建设", "中山", "文化", "工业", "科技", "长江", "黄河", "和平",
                "新华", "滨江", "东方", "南京", "学院", "创业", "高新", "湖滨", "延安", "体育")
STREET_KINDS = ("路", "路", "大道", "街")
BUILDINGS = ("", "", "科技园", "大厦", "工业园", "创业园", "商务中心")

PINYIN_WORDS = ("mingda", "huaxin", "hengtong", "dingsheng", "ruike", "zhongyuan", "xinyu",
                "hongyuan", "jinlong", "yongkang", "jiarun", "tiancheng", "shengda", "donghui")
MAIL_DOMAINS = ("163.com", "126.com", "qq.com", "sina.com", "foxmail.com", "aliyun.com")

REMARKS = (
    "老客户，付款及时，每季度有固定采购。",
    "对价格比较敏感，需要准备有竞争力的报价。",
    "决策流程较长，需同时跟进技术和采购部门。",
    "展会上认识，对新产品线很感兴趣。",
    "年底有设备更新计划，预算已批。",
    "曾使用竞争对手产品，对售后服务不满意。",
    "需要开具增值税专用发票。",
    "",
    "",
)

VISIT_TEMPLATES: dict[str, tuple[str, ...]] = {
    "phone": (
        "电话沟通了{product}的报价，客户表示价格偏高，希望再优惠{pct}%。",
        "致电{contact}确认下月采购计划，预计需要{qty}台{product}。",
        "电话回访上次发货情况，客户反馈包装完好，安装顺利。",
        "客户来电咨询{product}的技术参数，已答复并承诺发送资料。",
    ),
    "email": (
        "已将{product}的产品资料和报价单发送给{contact}，等待回复。",
        "邮件发送合同草稿，请客户法务部门审核。",
        "收到客户邮件，询问交货期能否提前到{date}。",
    ),
    "im": (
        "微信与{contact}沟通付款进度，对方表示本周内安排付款。",
        "通过微信发送了新品介绍视频，客户很感兴趣。",
        "客户在微信上反馈{product}有异响，已安排技术人员联系。",
    ),
    "onsite": (
        "上门拜访{contact}，参观了生产车间，了解到明年扩产计划，需要{qty}台{product}。",
        "到客户现场进行{product}安装调试，并对操作人员进行培训。",
        "与{contact}当面洽谈年度框架协议，基本达成一致，待报价确认。",
        "陪同技术总监拜访客户，解决了设备维护问题，客户满意。",
    ),
    "other": (
        "在行业展会上与{contact}再次见面，约定下周详谈。",
        "参加客户组织的供应商大会，了解了明年的采购方向。",
    ),
}
PRODUCTS = ("数控机床", "空压机", "工业机器人", "传感器", "变频器", "伺服电机", "检测设备",
            "包装机", "激光切割机", "PLC控制器", "减速机", "液压站")


def _pick_city(rng: random.Random) -> tuple[str, str, tuple[str, str, str]]:
    province_code = rng.choice(sorted(PROVINCES))
    province = PROVINCES[province_code]
    return province_code, province["zh"], rng.choice(province["cities"])


def person_name(rng: random.Random) -> str:
    """Return a common Chinese personal name (surname + 1 or 2 characters)."""
    given_len = 1 if rng.random() < 0.3 else 2
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN_CHARS) for _ in range(given_len))


def company_name(rng: random.Random, city: str, industry_code: str) -> str:
    """Return a company name: city + brand + industry word + legal suffix."""
    brand = rng.choice(BRAND_FIRST) + rng.choice(BRAND_SECOND)
    word = rng.choice(INDUSTRIES[industry_code]["words"])
    return f"{city}{brand}{word}{rng.choice(COMPANY_SUFFIXES)}"


def landline(rng: random.Random, area_code: str) -> str:
    """Return an 8-digit landline number with its area code, e.g. 0571-86123456."""
    first = str(rng.randint(2, 8))
    rest = "".join(str(rng.randint(0, 9)) for _ in range(7))
    return f"{area_code}-{first}{rest}"


def mobile(rng: random.Random) -> str:
    """Return a mainland mobile number: 1[3-9] followed by 9 digits."""
    return "1" + str(rng.randint(3, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(9))


def _email(rng: random.Random, local_hint: str | None = None) -> str:
    local = local_hint or rng.choice(PINYIN_WORDS)
    return f"{local}{rng.randint(1, 9999)}@{rng.choice(MAIL_DOMAINS)}"


def _address(rng: random.Random, city: str) -> str:
    street = rng.choice(STREET_WORDS) + rng.choice(STREET_KINDS)
    building = rng.choice(BUILDINGS)
    if building:
        building = rng.choice(BRAND_FIRST) + rng.choice(BRAND_SECOND) + building
    room = f"{rng.randint(1, 25)}{rng.randint(0, 1)}{rng.randint(1, 9)}室" if building else ""
    return f"{city}市{street}{rng.randint(1, 999)}号{building}{room}"


def customers(n: int, rng: random.Random) -> list[dict[str, Any]]:
    """Return ``n`` customers (about 80% companies) as JSON-ready dicts."""
    result = []
    level_codes = ["key"] * 2 + ["normal"] * 5 + ["potential"] * 3
    for _ in range(n):
        province_code, _province_zh, (city, _city_en, area_code) = _pick_city(rng)
        industry = rng.choice(sorted(INDUSTRIES))
        kind = "company" if rng.random() < 0.8 else "person"
        slug = rng.choice(PINYIN_WORDS)
        if kind == "company":
            name = company_name(rng, city, industry)
            email = f"{rng.choice(('sales', 'info', 'purchase', 'service'))}@{slug}{rng.randint(1, 99)}.com.cn"
        else:
            name = person_name(rng)
            email = _email(rng)
        level = rng.choice(level_codes)
        result.append({
            "kind": kind,
            "name": name,
            "level": level,
            "source": rng.choice(sorted(SOURCES)),
            "industry": industry,
            "phone": landline(rng, area_code),
            "mobile": mobile(rng),
            "email": email,
            "wechat": f"{slug}_{rng.randint(100, 99999)}",
            "qq": str(rng.randint(10_000_000, 2_999_999_999)),
            "province": province_code,
            "city": city,
            "address": _address(rng, city),
            "remark": rng.choice(REMARKS),
            "is_hot": level == "key" and rng.random() < 0.5,
        })
    return result


def _area_code(customer: dict[str, Any]) -> str:
    for province in PROVINCES.values():
        for city, _en, code in province["cities"]:
            if city == customer.get("city"):
                return str(code)
    return "010"


def contacts(customer: dict[str, Any], n: int, rng: random.Random) -> list[dict[str, Any]]:
    """Return ``n`` contacts at ``customer`` (the first one is the boss for companies)."""
    area_code = _area_code(customer)
    domain = str(customer.get("email", "")).partition("@")[2] or rng.choice(MAIL_DOMAINS)
    result = []
    for i in range(n):
        name = person_name(rng)
        title = TITLES[0][0] if i == 0 and customer.get("kind") == "company" else rng.choice(TITLES)[0]
        birthday = date(rng.randint(1962, 2000), rng.randint(1, 12), rng.randint(1, 28))
        result.append({
            "name": name,
            "title": title,
            "phone": landline(rng, area_code),
            "mobile": mobile(rng),
            "email": f"{rng.choice(PINYIN_WORDS)}{rng.randint(1, 99)}@{domain}",
            "wechat": f"wx_{rng.choice(PINYIN_WORDS)}{rng.randint(10, 9999)}",
            "birthday": birthday.isoformat(),
        })
    return result


def visits(
    customer: dict[str, Any], n: int, rng: random.Random, now: datetime
) -> list[dict[str, Any]]:
    """Return ``n`` past visits to ``customer``, oldest first, in China time.

    ``now`` must be timezone-aware; visits fall in the 180 days before it, in
    working hours. About half carry a ``next_contact_at`` after the visit.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    local_now = now.astimezone(CHINA_TZ)
    weights = {"phone": 40, "im": 25, "onsite": 20, "email": 10, "other": 5}
    methods = list(weights)
    contact_names = [c["name"] for c in contacts(customer, 2, random.Random(rng.random()))]
    stamps = []
    for _ in range(n):
        day = (local_now - timedelta(days=rng.randint(1, 180))).date()
        at = datetime.combine(day, time(rng.randint(8, 17), rng.choice((0, 10, 15, 20, 30, 40, 45, 50))),
                              tzinfo=CHINA_TZ)
        stamps.append(at)
    result = []
    for at in sorted(stamps):
        promised = at + timedelta(days=rng.randint(10, 40))
        method = rng.choices(methods, weights=[weights[m] for m in methods])[0]
        content = rng.choice(VISIT_TEMPLATES[method]).format(
            product=rng.choice(PRODUCTS),
            contact=rng.choice(contact_names),
            pct=rng.choice((3, 5, 8, 10)),
            qty=rng.randint(2, 30),
            date=f"{promised.month}月{promised.day}日",
        )
        visit: dict[str, Any] = {
            "method": method,
            "content": content,
            "visited_at": at.isoformat(timespec="seconds"),
        }
        if rng.random() < 0.5:
            reminder = LEVELS.get(str(customer.get("level")), LEVELS["normal"])["reminder_days"]
            nxt = at + timedelta(days=int(reminder) + rng.randint(0, 7))
            visit["next_contact_at"] = nxt.replace(hour=9, minute=30).isoformat(timespec="seconds")
        result.append(visit)
    return result


if __name__ == "__main__":
    _rng = random.Random(2024)
    _now = datetime(2026, 3, 2, 10, 0, tzinfo=CHINA_TZ)
    for _customer in customers(3, _rng):
        _customer["contacts"] = contacts(_customer, 2, _rng)
        _customer["visits"] = visits(_customer, 2, _rng, _now)
        print(json.dumps(_customer, ensure_ascii=False, indent=2))


# ---- sales: a small industrial catalogue ------------------------------------------------------------
CATEGORIES = ("阀门", "管件", "仪表")
PRODUCTS = (
    ("FM-001", "不锈钢球阀", "DN50 PN16", "个", 286.0, "6901234500011", "阀门"),
    ("FM-002", "铸铁闸阀", "DN100 PN10", "个", 420.0, "6901234500028", "阀门"),
    ("FM-003", "电动蝶阀", "DN150 220V", "台", 1680.0, "6901234500035", "阀门"),
    ("GJ-001", "无缝钢管", "Φ57×3.5 6m", "根", 312.5, "6901234500042", "管件"),
    ("GJ-002", "法兰盘", "DN50 304", "片", 45.8, "6901234500059", "管件"),
    ("GJ-003", "弯头", "90° DN80", "个", 18.6, "6901234500066", "管件"),
    ("YB-001", "压力表", "0-1.6MPa Y100", "块", 96.0, "6901234500073", "仪表"),
    ("YB-002", "电磁流量计", "DN80 4-20mA", "台", 5200.0, "6901234500080", "仪表"),
)


def order_lines(product_ids: list[tuple[str, float]], rng: random.Random) -> list[dict[str, Any]]:
    """One to three lines of (product id, list price), with a realistic discount and 13 % VAT."""
    picked = rng.sample(product_ids, rng.randint(1, min(3, len(product_ids))))
    return [{"product_id": pid, "quantity": rng.choice((1, 2, 5, 10, 20)), "unit_price": price,
             "discount": rng.choice((0, 0, 5, 10)), "tax_rate": 13} for pid, price in picked]
