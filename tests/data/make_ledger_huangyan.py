"""Writes tests/data/ledger_huangyan_2024.xlsx: a 300-row county 台账 as a district office keeps
it (for the browser walk-through of the import, issue 11).

    .venv/bin/python tests/data/make_ledger_huangyan.py

The demo reference data's names (seeds/reference.yaml). A title row merged across the
sheet and a 填报单位 line; a two-row header (投资情况 merged over 协议投资额（亿元）and
到位资金（万元）, 计划开工 / 实际开工 under 开工时间, the other headers merged down); mixed
date styles (real dates, 2024.3.8, 2024/03/08, 2024年3月8日, full-width digits); a 合计 row.
Seven rows are wrong on purpose: no project name, an amount as words, an unknown industry,
another county's 落户地, a date that does not exist, a stage that does not exist, the same
project twice.
"""
from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path

import xlsxwriter

OUT = Path(__file__).with_name("ledger_huangyan_2024.xlsx")
INDUSTRIES = ["新能源", "新材料", "新医药健康", "未来汽车", "精密制造", "低空经济", "合成生物", "机器人", "数字经济", "其他"]
REGIONS = ["上海", "江苏", "安徽", "浙江省内台州市外", "台州市内", "其他省份"]
PRODUCTS = ["汽车模具", "塑料制品", "医药中间体", "智能马桶", "新能源电池壳体", "精密注塑件", "无人机零部件",
            "生物基材料", "工业机器人关节", "高端阀门", "光伏支架", "锂电隔膜", "冷链物流", "智能家居"]
KINDS = ["生产线建设项目", "智能制造基地", "扩建项目", "技改项目", "产业园项目", "研发中心项目"]
FIRMS = ["精工", "华宇", "永信", "博瑞", "恒达", "天成", "鑫源", "东辰", "宏泰", "新锐", "力升", "凯德"]
CITIES = ["上海", "苏州", "合肥", "杭州", "宁波", "台州", "南京", "无锡", "深圳"]
STAGES = ["已签约"] * 6 + ["已注册"] * 2 + ["已供地", "已开工"]
FULL = str.maketrans("0123456789", "０１２３４５６７８９")


def _date_text(rng: random.Random, day: date):
    style = rng.randrange(6)
    if style <= 1:
        return day  # a real date cell
    if style == 2:
        return f"{day.year}.{day.month}.{day.day}"
    if style == 3:
        return f"{day.year}/{day.month:02d}/{day.day:02d}"
    if style == 4:
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{day.year}年{day.month}月{day.day}日".translate(FULL)


def main() -> None:
    rng = random.Random(2024)
    book = xlsxwriter.Workbook(str(OUT))
    ws = book.add_worksheet("2024年签约项目")
    title = book.add_format({"bold": True, "font_size": 16, "align": "center", "valign": "vcenter"})
    head = book.add_format({"bold": True, "align": "center", "valign": "vcenter", "border": 1, "text_wrap": True,
                            "bg_color": "#F2F2F2"})
    cell = book.add_format({"border": 1})
    day_fmt = book.add_format({"border": 1, "num_format": "yyyy\"年\"m\"月\"d\"日\""})
    money = book.add_format({"border": 1, "num_format": "0.00"})
    headers = ["序号", "项目名称", "投资主体", "投资方来源地", "所属产业", "所在地", "投资情况", None, "签约时间", "项目进度",
               "开工时间", None, "招商专员", "省重大", "项目内容"]
    subs = [None, None, None, None, None, None, "协议投资额（亿元）", "到位资金（万元）", None, None,
            "计划开工时间", "实际开工时间", None, None, None]
    last = len(headers) - 1
    ws.merge_range(0, 0, 0, last, "2024年黄岩区签约项目台账", title)
    ws.set_row(0, 30)
    ws.write_string(1, 0, "填报单位：黄岩区投资促进中心（盖章）")
    ws.write_string(1, last - 2, "填报日期：2025年1月6日")
    for c, (h, s) in enumerate(zip(headers, subs, strict=True)):
        if h is None:
            continue
        if s is None:
            ws.merge_range(2, c, 3, c, h, head)
    ws.merge_range(2, 6, 2, 7, "投资情况", head)
    ws.merge_range(2, 10, 2, 11, "开工时间", head)
    for c, s in enumerate(subs):
        if s:
            ws.write_string(3, c, s, head)
    widths = [5, 36, 30, 12, 10, 8, 12, 12, 14, 10, 14, 14, 8, 6, 30]
    for c, w in enumerate(widths):
        ws.set_column(c, c, w)
    ws.freeze_panes(4, 2)

    rows = []
    used = set()
    for i in range(300):
        while True:
            name = f"{rng.choice(['年产', '新建', ''])}{rng.choice(PRODUCTS)}{rng.choice(KINDS)}"
            if rng.random() < 0.5:
                name = f"{rng.choice(FIRMS)}{name}"
            if name not in used:
                used.add(name)
                break
        signed = date(2024, 1, 5) + timedelta(days=rng.randrange(0, 355))
        stage = rng.choice(STAGES)
        amount = round(rng.choice([rng.uniform(1, 5), rng.uniform(5, 20), rng.uniform(20, 60)]), 2)
        planned = signed + timedelta(days=rng.randrange(90, 400))
        actual = signed + timedelta(days=rng.randrange(60, 200)) if stage == "已开工" else None
        if actual and actual > date(2024, 12, 31):
            actual = date(2024, 12, 20)
        rows.append([i + 1, name, f"{rng.choice(CITIES)}{rng.choice(FIRMS)}{rng.choice(['科技', '实业', '新材料', '智能装备'])}有限公司",
                     rng.choice(REGIONS), rng.choice(INDUSTRIES), "黄岩区" if rng.random() < 0.8 else "",
                     amount, round(amount * 10000 * rng.uniform(0, 0.2), 2) if stage != "已签约" else None,
                     _date_text(rng, signed), stage, _date_text(rng, planned),
                     actual, rng.choice(["李晓燕", "黄志远", ""]), "是" if rng.random() < 0.05 else "",
                     f"建设{rng.choice(PRODUCTS)}生产线，购置先进设备"])
    # The mistakes an office makes.
    rows[17][1] = ""  # no project name
    rows[42][6] = "约三亿"  # an amount as words
    rows[88][4] = "造船"  # not an industry of ours
    rows[123][5] = "临海市"  # another county's project
    rows[150][8] = "2024年2月30日"  # no such day
    rows[201][9] = "已开过工"  # no such stage
    rows[260][1], rows[260][2], rows[260][5] = rows[259][1], rows[259][2], rows[259][5]  # the same project twice
    r = 4
    for values in rows:
        for c, value in enumerate(values):
            if value is None or value == "":
                ws.write_blank(r, c, None, cell)
            elif isinstance(value, date):
                ws.write_datetime(r, c, value, day_fmt)
            elif isinstance(value, int | float):
                ws.write_number(r, c, value, money if c in (6, 7) else cell)
            else:
                ws.write_string(r, c, value, cell)
        r += 1
    ws.write_string(r, 0, "合计", head)
    ws.write_formula(r, 6, f"=SUM(G5:G{r})", money, sum(v[6] for v in rows if isinstance(v[6], float)))
    book.close()
    print(OUT)


if __name__ == "__main__":
    main()
