#!/usr/bin/env python3
"""Generates the Da Nang sample data: programme.json and registrations.json.

The scenario is the one in the product brief: the Da Nang Center for Innovation and Startup
Support, with NIC and NSSC, receives 30+ Chinese enterprises on 13-14 January 2026 (networking
session, company-to-company meetings, site visits). The programme and the companies are written
out by hand below; the people (fake names, e-mail addresses, phone numbers, passport numbers,
submission times) come from a pseudo-random generator with a fixed seed, so every run writes
the same bytes. No network, no third-party packages.

    python3 generate.py             # write programme.json and registrations.json
    python3 generate.py --check     # exit 1 if the committed files differ from what this writes
    python3 generate.py --validate  # JSON Schema (needs jsonschema) and consistency checks
    python3 generate.py --summary   # the counts, as Markdown, for README.md

All personal data is invented: names are random combinations of common Chinese and Vietnamese
names, addresses are under example.cn / example.vn, numbers are random.
"""

import argparse
import json
import random
import sys
from pathlib import Path
from urllib.parse import urlparse

HERE = Path(__file__).resolve().parent
CONTRACTS = HERE.parent.parent / "docs" / "contracts"
SEED = 20260113
EVENT_ID = "danang-china-2026-01"


def at(day, hhmm):
    """A local time in Da Nang (UTC+7) on a day of January 2026, RFC 3339 with offset."""
    return f"2026-01-{day:02d}T{hhmm}:00+07:00"


def window(day, start, end):
    return {"start": at(day, start), "end": at(day, end)}


# ---------------------------------------------------------------------------------------------
# Programme
# ---------------------------------------------------------------------------------------------

HALL = "startup-centre-hall"
ENOSTA = "enosta-space"
DSAC = "dsac"
PORT = "lien-chieu-port"
HPIZA = "hpiza-office"
FTZ = "hightech-park-ftz"

DOCUMENT_DEADLINE = "2026-01-09T17:00:00+07:00"

VENUES = [
    {
        "id": HALL,
        "name": {
            "en": "Da Nang Center for Innovation and Startup Support – event hall",
            "vi": "Hội trường Trung tâm Hỗ trợ khởi nghiệp đổi mới sáng tạo Đà Nẵng",
            "zh-Hans": "岘港创新创业支持中心活动大厅",
        },
        # The seed names the organiser but not the hall's street address.
        "address": "Trung tâm Hỗ trợ khởi nghiệp đổi mới sáng tạo Đà Nẵng (Sở Khoa học và Công nghệ), Hải Châu, Đà Nẵng",
        "coordinates": {"latitude": 16.0678, "longitude": 108.2158},
        "openingWindows": [window(13, "08:00", "12:00")],
        # The schema wants visitMinutes >= 1; for the hall it is the networking session's length.
        "visitMinutes": 150,
        "capacityPerVisit": 150,
        "topics": ["startups", "investment-policy", "vietnam-china-logistics", "digital-marketing", "ai"],
        "isSiteVisit": False,
    },
    {
        "id": ENOSTA,
        "name": {
            "en": "Enosta Space – Da Nang Innovation Hub",
            "vi": "Enosta Space – Không gian Đổi mới sáng tạo Đà Nẵng",
            "zh-Hans": "Enosta Space – 岘港创新中心",
        },
        "address": "280–282 Trần Hưng Đạo, Sơn Trà, Đà Nẵng",
        "coordinates": {"latitude": 16.0592, "longitude": 108.2306},
        "openingWindows": [window(13, "13:30", "17:30")],
        "visitMinutes": 60,
        "capacityPerVisit": 45,
        "topics": ["startups", "innovation", "ai", "digital-transformation", "digital-marketing", "e-commerce", "fintech"],
        "isSiteVisit": True,
    },
    {
        "id": DSAC,
        "name": {
            "en": "Research and Training Center for IC Design and Artificial Intelligence (DSAC)",
            "vi": "Trung tâm Nghiên cứu, đào tạo thiết kế vi mạch và trí tuệ nhân tạo Đà Nẵng (DSAC)",
            "zh-Hans": "岘港集成电路设计与人工智能研究培训中心（DSAC）",
        },
        "address": "Công viên Phần mềm Đà Nẵng số 2, Thuận Phước, Hải Châu, Đà Nẵng",
        "coordinates": {"latitude": 16.0829, "longitude": 108.2191},
        "openingWindows": [window(13, "13:30", "17:30")],
        "visitMinutes": 60,
        "capacityPerVisit": 25,
        "topics": ["semiconductors", "ic-design", "ai", "talent-training", "technology-transfer"],
        "isSiteVisit": True,
    },
    {
        "id": PORT,
        "name": {"en": "Lien Chieu Port", "vi": "Cảng Liên Chiểu", "zh-Hans": "连沼港"},
        "address": "Cảng Liên Chiểu, Hòa Hiệp Bắc, Liên Chiểu, Đà Nẵng",
        "coordinates": {"latitude": 16.1216, "longitude": 108.1318},
        "openingWindows": [window(14, "08:00", "11:30")],
        "visitMinutes": 75,
        "capacityPerVisit": 30,
        "topics": ["logistics", "seaport", "supply-chain", "vietnam-china-logistics"],
        "restrictedAccess": {"documents": ["passport"], "deadline": DOCUMENT_DEADLINE},
        "isSiteVisit": True,
    },
    {
        "id": HPIZA,
        "name": {
            "en": "Da Nang High-Tech Park and Industrial Zones Authority (meeting)",
            "vi": "Ban Quản lý Khu công nghệ cao và các khu công nghiệp Đà Nẵng (buổi làm việc)",
            "zh-Hans": "岘港高新技术园区和工业区管理委员会（会谈）",
        },
        "address": "Khu công nghệ cao Đà Nẵng, Hòa Liên, Hòa Vang, Đà Nẵng",
        "coordinates": {"latitude": 16.0978, "longitude": 108.0447},
        "openingWindows": [window(14, "13:30", "15:30")],
        "visitMinutes": 60,
        "capacityPerVisit": 45,
        "topics": ["investment-policy", "industrial-zones", "manufacturing", "clean-energy", "semiconductors"],
        "isSiteVisit": True,
    },
    {
        "id": FTZ,
        "name": {
            "en": "Da Nang High-Tech Park and Free Trade Zone",
            "vi": "Khu công nghệ cao và Khu thương mại tự do Đà Nẵng",
            "zh-Hans": "岘港高新技术园区和自由贸易区",
        },
        "address": "Khu công nghệ cao và Khu thương mại tự do Đà Nẵng, Hòa Liên, Hòa Vang, Đà Nẵng",
        "coordinates": {"latitude": 16.0921, "longitude": 108.0523},
        "openingWindows": [window(14, "13:30", "17:00")],
        "visitMinutes": 90,
        "capacityPerVisit": 35,
        "topics": ["free-trade-zone", "manufacturing", "semiconductors", "smart-manufacturing", "logistics", "supply-chain"],
        "restrictedAccess": {"documents": ["passport", "national-id"], "deadline": DOCUMENT_DEADLINE},
        "isSiteVisit": True,
    },
]

# Minutes by bus, the same both ways: the city centre (the hall) to Lien Chieu Port ~35, to the
# High-Tech Park ~40 (expressway), across the Han River ~10, port to High-Tech Park ~25.
TRAVEL = {
    (HALL, ENOSTA): 10, (HALL, DSAC): 8, (HALL, PORT): 35, (HALL, HPIZA): 40, (HALL, FTZ): 40,
    (ENOSTA, DSAC): 10, (ENOSTA, PORT): 40, (ENOSTA, HPIZA): 45, (ENOSTA, FTZ): 45,
    (DSAC, PORT): 30, (DSAC, HPIZA): 38, (DSAC, FTZ): 38,
    (PORT, HPIZA): 25, (PORT, FTZ): 25,
    (HPIZA, FTZ): 8,
}


def programme():
    ids = [venue["id"] for venue in VENUES]
    matrix = []
    for a in ids:
        for b in ids:
            if a != b:
                minutes = TRAVEL.get((a, b), TRAVEL.get((b, a)))
                matrix.append({"from": a, "to": b, "minutes": minutes})
    return {
        "eventID": EVENT_ID,
        "version": 1,
        "name": {
            "en": "Da Nang – China Innovation and Technology Networking and Site Visits",
            "vi": "Kết nối đổi mới sáng tạo và công nghệ Đà Nẵng – Trung Quốc và tham quan thực tế",
            "zh-Hans": "岘港—中国创新与科技交流对接会及实地考察",
        },
        "timeZone": "Asia/Ho_Chi_Minh",
        "days": ["2026-01-13", "2026-01-14"],
        "capacity": {"organisations": 40, "delegates": 120},
        "registrationDeadline": "2026-01-10T17:00:00+07:00",
        "sessions": [
            {
                "id": "networking",
                "title": {
                    "en": "Networking session: Da Nang startup and investment policies, Vietnam–China logistics cooperation, AI-driven digital marketing",
                    "vi": "Phiên kết nối: chính sách khởi nghiệp và thu hút đầu tư của Đà Nẵng, hợp tác logistics Việt Nam – Trung Quốc, xu hướng tiếp thị số ứng dụng AI",
                    "zh-Hans": "交流会：岘港创业与投资政策介绍、越中物流合作、人工智能驱动的数字营销趋势",
                },
                "venueID": HALL,
                "start": at(13, "08:30"),
                "end": at(13, "11:00"),
            }
        ],
        "venues": VENUES,
        "buses": [{"id": "bus-45a", "seats": 45}, {"id": "bus-29a", "seats": 29}, {"id": "bus-16a", "seats": 16}],
        "travel": {"matrix": matrix, "roadSpeedKmh": 30, "detourFactor": 1.4},
        "interpreters": [
            {"id": "int-1", "languages": ["zh-Hans", "vi"]},
            {"id": "int-2", "languages": ["zh-Hans", "en"]},
            {"id": "int-3", "languages": ["zh-Hans", "vi"]},
        ],
        "meetingSlots": [
            {"id": "b2b-1", "venueID": HALL, "start": at(13, "11:00"), "end": at(13, "11:30"), "tables": 12},
            {"id": "b2b-2", "venueID": HALL, "start": at(13, "11:30"), "end": at(13, "12:00"), "tables": 12},
        ],
        "publishedAt": "2026-01-02T09:00:00+07:00",
    }


# ---------------------------------------------------------------------------------------------
# Companies (invented)
# ---------------------------------------------------------------------------------------------

# slug, English name, Chinese name, sectors, delegates, interests (sectors), topics,
# preferred visits (ranked), delegates without an identity document (indices)
VISITING = [
    ("hailian-logistics", "Shenzhen Hailian Cross-Border Logistics Co., Ltd.", "深圳市海联跨境物流有限公司",
     ["logistics", "e-commerce"], 4, ["logistics", "e-commerce", "manufacturing"],
     ["vietnam-china-logistics", "cross-border-e-commerce", "seaport", "free-trade-zone"], [PORT, FTZ, ENOSTA], []),
    ("xinhe-micro", "Shenzhen Xinhe Microelectronics Co., Ltd.", "深圳市芯禾微电子有限公司",
     ["semiconductors"], 3, ["semiconductors", "ai"], ["ic-design", "talent-training", "investment-policy"], [DSAC, FTZ, HPIZA], []),
    ("lingyun-ai", "Shenzhen Lingyun Artificial Intelligence Technology Co., Ltd.", "深圳市凌云人工智能科技有限公司",
     ["ai", "digital-transformation"], 3, ["ai", "digital-transformation", "digital-marketing"],
     ["startups", "technology-transfer", "ai-marketing"], [DSAC, ENOSTA], []),
    ("fulian-fintech", "Shenzhen Qianhai Fulian Fintech Co., Ltd.", "深圳前海付联金融科技有限公司",
     ["fintech", "e-commerce"], 2, ["fintech", "e-commerce"], ["cross-border-payments", "startups"], [ENOSTA], []),
    ("guangyao-energy", "Shenzhen Guangyao New Energy Co., Ltd.", "深圳市光耀新能源有限公司",
     ["clean-energy", "manufacturing"], 3, ["clean-energy", "manufacturing", "industrial-parks"],
     ["industrial-zones", "investment-policy", "free-trade-zone"], [HPIZA, FTZ], []),
    ("yunshang-marketing", "Shenzhen Yunshang Digital Marketing Co., Ltd.", "深圳市云商数字营销有限公司",
     ["digital-marketing", "e-commerce"], 2, ["digital-marketing", "e-commerce", "ai"],
     ["ai-marketing", "cross-border-e-commerce"], [ENOSTA, DSAC], []),
    ("nanyue-scm", "Guangzhou Nanyue Supply Chain Management Co., Ltd.", "广州南粤供应链管理有限公司",
     ["logistics"], 5, ["logistics", "manufacturing", "e-commerce"],
     ["vietnam-china-logistics", "supply-chain", "seaport", "free-trade-zone"], [PORT, FTZ, HPIZA], []),
    ("baiyun-smart", "Guangzhou Baiyun Smart Manufacturing Technology Co., Ltd.", "广州白云智造科技有限公司",
     ["manufacturing", "ai"], 3, ["manufacturing", "ai", "semiconductors", "industrial-parks"],
     ["smart-manufacturing", "industrial-zones", "free-trade-zone"], [FTZ, HPIZA, DSAC], []),
    ("huicheng-ec", "Guangzhou Huicheng E-Commerce Co., Ltd.", "广州汇城电子商务有限公司",
     ["e-commerce", "digital-marketing"], 2, ["e-commerce", "logistics", "digital-marketing"],
     ["cross-border-e-commerce", "ai-marketing"], [ENOSTA, PORT], []),
    ("zhiyuan-digital", "Guangzhou Zhiyuan Digital Technology Co., Ltd.", "广州智远数字科技有限公司",
     ["digital-transformation", "ai"], 3, ["digital-transformation", "ai"], ["smart-city", "startups", "technology-transfer"],
     [ENOSTA, DSAC, HPIZA], []),
    ("lingnan-coldchain", "Guangzhou Lingnan Cold Chain Logistics Co., Ltd.", "广州岭南冷链物流有限公司",
     ["logistics"], 2, ["logistics", "e-commerce"], ["cold-chain", "seaport", "supply-chain"], [PORT, FTZ], []),
    ("jinqiao-freight", "Nanning Jinqiao Cross-Border Freight Co., Ltd.", "南宁金桥跨境货运有限公司",
     ["logistics", "e-commerce"], 3, ["logistics", "e-commerce"],
     ["vietnam-china-logistics", "cross-border-e-commerce", "free-trade-zone"], [PORT, FTZ, HPIZA, ENOSTA], [2]),
    ("qingyuan-energy", "Nanning Qingyuan New Energy Technology Co., Ltd.", "南宁清源新能源科技有限公司",
     ["clean-energy"], 2, ["clean-energy", "manufacturing", "industrial-parks"], ["investment-policy", "industrial-zones"],
     [HPIZA, FTZ], []),
    ("hongmian-agri", "Guangxi Hongmian Agricultural Products E-Commerce Co., Ltd.", "广西红棉农产品电子商务有限公司",
     ["e-commerce", "logistics"], 3, ["e-commerce", "logistics", "digital-marketing"],
     ["cross-border-e-commerce", "cold-chain", "vietnam-china-logistics"], [PORT, ENOSTA], []),
    ("zhongyue-digital", "Nanning Zhongyue Digital Technology Co., Ltd.", "南宁中越数字科技有限公司",
     ["digital-transformation", "fintech"], 2, ["digital-transformation", "fintech", "ai"], ["cross-border-payments", "startups"],
     [ENOSTA, HPIZA], []),
    ("dianchi-logistics", "Kunming Dianchi Smart Logistics Co., Ltd.", "昆明滇池智慧物流有限公司",
     ["logistics", "ai"], 3, ["logistics", "ai"], ["vietnam-china-logistics", "supply-chain", "seaport"], [PORT, FTZ, DSAC], []),
    ("caiyun-marketing", "Yunnan Caiyun Digital Marketing Co., Ltd.", "云南彩云数字营销有限公司",
     ["digital-marketing"], 2, ["digital-marketing", "e-commerce"], ["ai-marketing", "tourism-marketing"], [ENOSTA], []),
    ("yunxin-pv", "Kunming Yunxin Photovoltaic Technology Co., Ltd.", "昆明云新光伏科技有限公司",
     ["clean-energy", "manufacturing"], 3, ["clean-energy", "manufacturing", "industrial-parks"],
     ["industrial-zones", "free-trade-zone", "investment-policy"], [FTZ, HPIZA], []),
    ("haixi-cbec", "Xiamen Haixi Cross-Border E-Commerce Co., Ltd.", "厦门海西跨境电子商务有限公司",
     ["e-commerce", "logistics"], 4, ["e-commerce", "logistics", "digital-marketing"],
     ["cross-border-e-commerce", "seaport", "free-trade-zone"], [PORT, ENOSTA, FTZ], []),
    ("lujiang-shipping", "Xiamen Lujiang Shipping Agency Co., Ltd.", "厦门鹭江船务代理有限公司",
     ["logistics"], 2, ["logistics"], ["seaport", "vietnam-china-logistics", "supply-chain"], [PORT], [0, 1]),
    ("xinyu-ic", "Xiamen Xinyu Integrated Circuit Design Co., Ltd.", "厦门芯宇集成电路设计有限公司",
     ["semiconductors"], 3, ["semiconductors", "ai"], ["ic-design", "talent-training"], [DSAC, FTZ], []),
    ("zhilian-tech", "Shanghai Zhilian Intelligent Technology Co., Ltd.", "上海智联智能科技有限公司",
     ["ai", "manufacturing"], 5, ["ai", "manufacturing", "semiconductors", "digital-transformation"],
     ["smart-manufacturing", "technology-transfer", "free-trade-zone"], [DSAC, FTZ, ENOSTA, HPIZA], []),
    ("hengxin-semi", "Shanghai Hengxin Semiconductor Equipment Co., Ltd.", "上海恒芯半导体设备有限公司",
     ["semiconductors", "manufacturing"], 3, ["semiconductors", "manufacturing", "industrial-parks"],
     ["ic-design", "industrial-zones", "free-trade-zone"], [FTZ, DSAC, HPIZA], []),
    ("shenlan-fintech", "Shanghai Shenlan Fintech Co., Ltd.", "上海深蓝金融科技有限公司",
     ["fintech"], 1, ["fintech", "e-commerce", "ai"], ["cross-border-payments", "startups"], [ENOSTA], []),
    ("yuexiang-brand", "Shanghai Yuexiang Brand Marketing Co., Ltd.", "上海悦象品牌营销有限公司",
     ["digital-marketing", "ai"], 2, ["digital-marketing", "ai", "e-commerce"], ["ai-marketing", "startups"], [ENOSTA, DSAC], []),
    ("xihu-cloud", "Hangzhou Xihu Cloud E-Commerce Co., Ltd.", "杭州西湖云电子商务有限公司",
     ["e-commerce", "digital-marketing"], 4, ["e-commerce", "digital-marketing", "logistics"],
     ["cross-border-e-commerce", "live-commerce", "ai-marketing"], [ENOSTA, PORT], []),
    ("qiantang-data", "Hangzhou Qiantang Data Intelligence Co., Ltd.", "杭州钱塘数据智能有限公司",
     ["ai", "digital-transformation"], 3, ["ai", "digital-transformation"], ["smart-city", "technology-transfer", "startups"],
     [DSAC, ENOSTA], []),
    ("liangzhu-mfg", "Hangzhou Liangzhu Intelligent Manufacturing Co., Ltd.", "杭州良渚智能制造有限公司",
     ["manufacturing"], 2, ["manufacturing", "industrial-parks"], ["smart-manufacturing", "industrial-zones", "free-trade-zone"],
     [FTZ, HPIZA], [1]),
    ("yunfu-tech", "Hangzhou Yunfu Technology Co., Ltd.", "杭州云付科技有限公司",
     ["fintech", "e-commerce"], 1, ["fintech", "e-commerce"], ["cross-border-payments"], [ENOSTA], []),
    ("yuxin-auto", "Chongqing Yuxin Auto Parts Manufacturing Co., Ltd.", "重庆渝新汽车零部件制造有限公司",
     ["manufacturing"], 3, ["manufacturing", "logistics", "industrial-parks"], ["industrial-zones", "supply-chain", "investment-policy"],
     [HPIZA, FTZ, PORT], []),
    ("tianfu-chip", "Chengdu Tianfu Chip Technology Co., Ltd.", "成都天府芯片科技有限公司",
     ["semiconductors", "ai"], 2, ["semiconductors", "ai"], ["ic-design", "talent-training"], [DSAC, FTZ], []),
    ("songhu-electronics", "Dongguan Songhu Electronics Co., Ltd.", "东莞松湖电子有限公司",
     ["manufacturing", "semiconductors"], 3, ["manufacturing", "semiconductors", "industrial-parks"],
     ["smart-manufacturing", "free-trade-zone", "industrial-zones"], [FTZ, DSAC, HPIZA], []),
]

# Local hosts: slug, English name, Vietnamese name, sectors, interests (sectors), topics,
# people (name, e-mail local part, title).
HOSTS = [
    ("songhan-logistics", "Song Han Logistics Joint Stock Company", "Công ty Cổ phần Logistics Sông Hàn",
     ["logistics"], ["logistics", "e-commerce", "manufacturing"],
     ["vietnam-china-logistics", "seaport", "supply-chain", "cross-border-e-commerce"],
     [("Nguyễn Minh Tuấn", "tuan.nguyen", "Giám đốc điều hành"),
      ("Trần Thị Thu Hà", "ha.tran", "Trưởng phòng Kinh doanh quốc tế")]),
    ("haivan-ai", "Hai Van AI Software Co., Ltd.", "Công ty TNHH Phần mềm Trí tuệ nhân tạo Hải Vân",
     ["ai", "digital-transformation"], ["ai", "fintech", "digital-transformation", "e-commerce"],
     ["startups", "technology-transfer", "smart-city"],
     [("Lê Quang Huy", "huy.le", "Giám đốc công nghệ"),
      ("Phạm Thị Ngọc Lan", "lan.pham", "Giám đốc phát triển kinh doanh")]),
    ("nonnuoc-chip", "Non Nuoc Microchip Design JSC", "Công ty Cổ phần Thiết kế Vi mạch Non Nước",
     ["semiconductors", "ai"], ["semiconductors", "ai", "manufacturing"],
     ["ic-design", "talent-training", "technology-transfer"],
     [("Võ Đức Thắng", "thang.vo", "Nhà sáng lập kiêm Giám đốc")]),
    ("chohan-online", "Cho Han Online E-commerce JSC", "Công ty Cổ phần Thương mại điện tử Chợ Hàn Online",
     ["e-commerce"], ["e-commerce", "logistics", "fintech", "digital-marketing"],
     ["cross-border-e-commerce", "cross-border-payments", "live-commerce"],
     [("Hoàng Thị Mai Anh", "anh.hoang", "Tổng giám đốc"),
      ("Đặng Văn Phúc", "phuc.dang", "Trưởng bộ phận Vận hành")]),
    ("mykhe-digital", "My Khe Digital Media Co., Ltd.", "Công ty TNHH Truyền thông số Mỹ Khê",
     ["digital-marketing"], ["digital-marketing", "e-commerce", "ai"],
     ["ai-marketing", "tourism-marketing", "startups"],
     [("Bùi Thị Hồng Nhung", "nhung.bui", "Giám đốc sáng tạo")]),
    ("taybac-ip", "Northwest Da Nang Industrial Park Development JSC", "Công ty Cổ phần Phát triển Khu công nghiệp Tây Bắc Đà Nẵng",
     ["industrial-parks", "manufacturing"], ["manufacturing", "semiconductors", "clean-energy", "logistics"],
     ["industrial-zones", "investment-policy", "free-trade-zone"],
     [("Huỳnh Tấn Lộc", "loc.huynh", "Phó Tổng giám đốc phụ trách xúc tiến đầu tư"),
      ("Ngô Thị Kim Oanh", "oanh.ngo", "Chuyên viên xúc tiến đầu tư")]),
]

SURNAMES = [
    "Zhang", "Wang", "Li", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou", "Xu", "Sun", "Ma", "Zhu", "Hu",
    "Guo", "He", "Lin", "Luo", "Gao", "Liang", "Zheng", "Xie", "Song", "Tang", "Han", "Feng", "Deng", "Cao", "Peng",
    "Zeng", "Xiao", "Tian", "Dong", "Pan", "Yuan", "Cai", "Jiang", "Yu", "Du", "Ye", "Cheng", "Wei", "Su", "Ding",
    "Ren", "Shen", "Yao", "Lu", "Cui", "Zhong", "Tan", "Fan", "Jin", "Shi", "Liao", "Jia", "Xia", "Fu", "Fang",
]
GIVEN_NAMES = [
    "Wei", "Fang", "Min", "Jing", "Lei", "Jun", "Yang", "Yong", "Yan", "Jie", "Tao", "Ming", "Chao", "Xiuying", "Xia",
    "Ping", "Gang", "Hui", "Lin", "Hao", "Yu", "Bo", "Qiang", "Zhiqiang", "Haiyan", "Xiaoming", "Jianguo", "Lili",
    "Yufei", "Ziyang", "Yichen", "Mengyao", "Siyuan", "Jiahui", "Zihan", "Haoran", "Xinyi", "Ruoxi", "Wenjie", "Kaiwen",
    "Shuang", "Pengfei", "Chunhua", "Guoqing", "Zhenyu", "Xuefeng", "Yuting", "Jiayi", "Hongwei", "Jianhua", "Lihua",
    "Qing", "Rui", "Yue", "Tingting", "Xiaoyu", "Junjie", "Weiming",
]
LEAD_TITLES = ["General Manager", "Chief Executive Officer", "Chairman", "Founder and CEO", "Vice President", "Managing Director"]
OTHER_TITLES = [
    "Overseas Business Director", "Head of Southeast Asia Business", "Sales Manager", "Chief Technology Officer",
    "Chief Engineer", "Supply Chain Manager", "Marketing Director", "Investment Manager", "Project Manager",
    "Assistant to the General Manager", "Operations Director", "R&D Director", "Product Manager", "Business Development Manager",
]

# Two delegates with access needs: (company slug, delegate index, text).
ACCESSIBILITY = {
    ("nanyue-scm", 3): "wheelchair user; needs step-free access on site visits",
    ("hengxin-semi", 1): "limited mobility; cannot walk long distances on site tours",
}

EN_SPEAKERS = 8          # visiting delegates who read and listen in English
NEEDS_INTERPRETER = 30   # visiting Chinese-speaking delegates who need an interpreter


class Dice:
    """Deterministic choices from random.Random(SEED).random() only, whose sequence Python
    guarantees to stay the same across versions for an int seed (unlike randint, choice, shuffle)."""

    def __init__(self, seed):
        self.rng = random.Random(seed)

    def below(self, n):
        return min(n - 1, int(self.rng.random() * n))

    def between(self, low, high):
        return low + self.below(high - low + 1)

    def pick(self, items):
        return items[self.below(len(items))]

    def chance(self, p):
        return self.rng.random() < p

    def shuffled(self, items):
        items = list(items)
        for i in range(len(items) - 1, 0, -1):
            j = self.below(i + 1)
            items[i], items[j] = items[j], items[i]
        return items


def registrations():
    dice = Dice(SEED)

    # Everyone's name is a distinct surname + given name pair.
    used_names = set()

    def person_name():
        while True:
            name = (dice.pick(SURNAMES), dice.pick(GIVEN_NAMES))
            if name not in used_names:
                used_names.add(name)
                return name

    used_numbers = set()

    def passport_number():
        while True:
            number = "E" + "".join(str(dice.below(10)) for _ in range(8))
            if number not in used_numbers:
                used_numbers.add(number)
                return number

    def phone_cn():
        return f"+86 13{dice.below(10)} {dice.between(0, 9999):04d} {dice.between(0, 9999):04d}"

    # Who speaks English and who needs an interpreter, chosen among all visiting delegates.
    seats = [(c, i) for c, company in enumerate(VISITING) for i in range(company[4])]
    order = dice.shuffled(seats)
    english = set(order[:EN_SPEAKERS])
    interpreter = set(order[EN_SPEAKERS:EN_SPEAKERS + NEEDS_INTERPRETER])

    submissions = []
    for c, (slug, name, local, sectors, size, interest_sectors, topics, prefs, no_doc) in enumerate(VISITING):
        domain = f"{slug}.example.cn"
        delegates = []
        for i in range(size):
            surname, given = person_name()
            delegate = {"name": f"{surname} {given}"}
            delegate["title"] = dice.pick(LEAD_TITLES) if i == 0 else dice.pick(OTHER_TITLES)
            if i == 0 or dice.chance(0.85):
                delegate["email"] = f"{given.lower()}.{surname.lower()}@{domain}"
            if i == 0 or dice.chance(0.4):
                delegate["phone"] = phone_cn()
            delegate["language"] = "en" if (c, i) in english else "zh-Hans"
            delegate["needsInterpreter"] = (c, i) in interpreter
            if (slug, i) in ACCESSIBILITY:
                delegate["accessibilityNeeds"] = ACCESSIBILITY[(slug, i)]
            if i not in no_doc:
                document = {
                    "kind": "passport",
                    "number": passport_number(),
                    "issuingCountry": "CN",
                    "fullName": f"{surname} {given}".upper(),
                }
                if dice.chance(0.8):
                    document["dateOfBirth"] = f"{dice.between(1966, 1999)}-{dice.between(1, 12):02d}-{dice.between(1, 28):02d}"
                document["expiresOn"] = f"{dice.between(2028, 2034)}-{dice.between(1, 12):02d}-{dice.between(1, 28):02d}"
                delegate["identityDocument"] = document
            delegates.append(delegate)
        lead = delegates[0]
        organisation = {"name": name, "localName": local, "country": "CN", "sectors": sectors}
        if dice.chance(0.8):
            organisation["website"] = f"https://www.{domain}"
        submissions.append({
            "organisation": organisation,
            "role": "visiting",
            "leadContact": {key: lead[key] for key in ("name", "title", "email", "phone", "language")},
            "delegates": delegates,
            "interests": {"sectors": interest_sectors, "topics": topics},
            "preferredVisits": prefs,
        })

    for slug, name, local, sectors, interest_sectors, topics, people in HOSTS:
        domain = f"{slug}.example.vn"
        delegates = []
        for i, (person, mailbox, title) in enumerate(people):
            delegate = {"name": person, "title": title, "email": f"{mailbox}@{domain}"}
            if i == 0 or dice.chance(0.5):
                delegate["phone"] = f"+84 905 {dice.between(0, 999):03d} {dice.between(0, 999):03d}"
            delegate["language"] = "vi"
            delegate["needsInterpreter"] = False
            delegates.append(delegate)
        lead = delegates[0]
        submissions.append({
            "organisation": {"name": name, "localName": local, "country": "VN", "sectors": sectors,
                             "website": f"https://www.{domain}"},
            "role": "host",
            "leadContact": {key: lead[key] for key in ("name", "title", "email", "phone", "language")},
            "delegates": delegates,
            "interests": {"sectors": interest_sectors, "topics": topics},
            "preferredVisits": [],
        })

    # Submitted between 3 January 08:00 and 8 January 20:59, Da Nang time; consent a few minutes
    # before. The form numbers its references in the order the forms arrived.
    stamped = []
    for submission in submissions:
        minute_of_window = dice.between(0, 6 * 24 * 60 - 1)
        day = 3 + minute_of_window // (24 * 60)
        hour = 8 + dice.below(13)
        minute = dice.below(60)
        second = dice.below(60)
        lead_minutes = dice.between(2, 25)
        given_total = hour * 60 + minute - lead_minutes
        submitted = f"2026-01-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}+07:00"
        given = f"2026-01-{day:02d}T{given_total // 60:02d}:{given_total % 60:02d}:00+07:00"
        stamped.append((submitted, given, submission))
    stamped.sort(key=lambda item: item[0])

    result = []
    for number, (submitted, given, submission) in enumerate(stamped, start=1):
        result.append({
            "eventID": EVENT_ID,
            "reference": f"nic-form-{number:04d}",
            "revision": 1,
            **submission,
            "consent": {"dataProcessing": True, "givenAt": given},
            "submittedAt": submitted,
        })
    return result


# ---------------------------------------------------------------------------------------------
# Output, checks, summary
# ---------------------------------------------------------------------------------------------

def render(value):
    return json.dumps(value, ensure_ascii=False, indent=2) + "\n"


def outputs():
    return {"programme.json": render(programme()), "registrations.json": render(registrations())}


def consistency(prog, regs):
    """Checks the schemas cannot express. Returns a list of problems."""
    problems = []
    venues = {venue["id"]: venue for venue in prog["venues"]}
    sites = {vid for vid, venue in venues.items() if venue.get("isSiteVisit", True)}
    for venue in prog["venues"]:
        lat, lon = venue["coordinates"]["latitude"], venue["coordinates"]["longitude"]
        if not (15.9 <= lat <= 16.2 and 107.9 <= lon <= 108.35):
            problems.append(f"venue {venue['id']}: coordinates {lat},{lon} are not near Da Nang")
        for w in venue["openingWindows"]:
            if not w["start"] < w["end"] or not w["start"].endswith("+07:00"):
                problems.append(f"venue {venue['id']}: bad window {w}")
    pairs = {(t["from"], t["to"]) for t in prog["travel"]["matrix"]}
    for a in venues:
        for b in venues:
            if a != b and (a, b) not in pairs:
                problems.append(f"travel: no time from {a} to {b}")
    for item in prog["sessions"] + prog["meetingSlots"]:
        if item["venueID"] not in venues:
            problems.append(f"{item['id']}: unknown venue {item['venueID']}")
    emails, references, numbers = {}, set(), set()
    for reg in regs:
        ref = reg["reference"]
        if ref in references:
            problems.append(f"{ref}: duplicate reference")
        references.add(ref)
        if reg["eventID"] != prog["eventID"]:
            problems.append(f"{ref}: eventID {reg['eventID']}")
        for vid in reg.get("preferredVisits", []):
            if vid not in sites:
                problems.append(f"{ref}: preferred visit {vid} is not a site visit")
        if not ("2026-01-03" <= reg["submittedAt"][:10] <= "2026-01-08"):
            problems.append(f"{ref}: submittedAt {reg['submittedAt']}")
        if not reg["consent"]["givenAt"] < "2026-01-09" or not reg["consent"]["givenAt"] <= reg["submittedAt"]:
            problems.append(f"{ref}: consent givenAt {reg['consent']['givenAt']}")
        website = reg["organisation"].get("website")
        if website and not (urlparse(website).scheme == "https" and urlparse(website).netloc):
            problems.append(f"{ref}: website {website}")
        for i, delegate in enumerate(reg["delegates"]):
            email = delegate.get("email")
            if email:
                if email.lower() in emails:
                    problems.append(f"{ref} delegates[{i}]: e-mail {email} also used by {emails[email.lower()]}")
                emails[email.lower()] = f"{ref} delegates[{i}]"
                if not email.endswith((".example.cn", ".example.vn")):
                    problems.append(f"{ref} delegates[{i}]: e-mail {email} is not under example.cn / example.vn")
            doc = delegate.get("identityDocument")
            if doc:
                if doc["number"] in numbers:
                    problems.append(f"{ref} delegates[{i}]: duplicate document number")
                numbers.add(doc["number"])
                if not "2028-01-01" <= doc["expiresOn"] <= "2034-12-31":
                    problems.append(f"{ref} delegates[{i}]: expiresOn {doc['expiresOn']}")
    return problems


def validate(files):
    ok = True
    try:
        from jsonschema import Draft202012Validator, FormatChecker
    except ImportError:
        print("jsonschema is not installed: schema validation skipped (apt-get install python3-jsonschema)")
        Draft202012Validator = None
    prog = json.loads(files["programme.json"])
    regs = json.loads(files["registrations.json"])
    if Draft202012Validator:
        checks = [("programme.published", prog)] + [("registration.submitted", reg) for reg in regs]
        validators = {}
        for kind, body in checks:
            if kind not in validators:
                schema = json.loads((CONTRACTS / f"{kind}.schema.json").read_text(encoding="utf-8"))
                Draft202012Validator.check_schema(schema)
                validators[kind] = Draft202012Validator(schema, format_checker=FormatChecker())
            errors = list(validators[kind].iter_errors(body))
            for error in errors:
                ok = False
                print(f"{kind} {body.get('reference', body.get('eventID'))}: {error.json_path}: {error.message}")
        print(f"schema: {len(checks)} documents checked (1 programme.published, {len(regs)} registration.submitted), "
              f"{'all valid' if ok else 'ERRORS above'}")
    problems = consistency(prog, regs)
    for problem in problems:
        print(problem)
    print(f"consistency: {'ok' if not problems else f'{len(problems)} problems'}")
    return ok and not problems


def summary(files):
    prog = json.loads(files["programme.json"])
    regs = json.loads(files["registrations.json"])
    visiting = [r for r in regs if r["role"] == "visiting"]
    hosts = [r for r in regs if r["role"] == "host"]
    people = lambda rs: sum(len(r["delegates"]) for r in rs)
    interp = sum(d.get("needsInterpreter", False) for r in regs for d in r["delegates"])
    english = sum(d["language"] == "en" for r in regs for d in r["delegates"])
    missing = [r for r in visiting if any("identityDocument" not in d for d in r["delegates"])]
    missing_people = sum("identityDocument" not in d for r in visiting for d in r["delegates"])
    lines = [
        "| what | count |", "|---|---|",
        f"| registrations | {len(regs)} |",
        f"| visiting enterprises (CN) | {len(visiting)} |",
        f"| local hosts (VN) | {len(hosts)} |",
        f"| delegates, all | {people(regs)} |",
        f"| delegates of visiting enterprises | {people(visiting)} |",
        f"| delegates of hosts | {people(hosts)} |",
        f"| delegates reading English (`en`) | {english} |",
        f"| delegates needing an interpreter | {interp} |",
        f"| visiting delegations missing an identity document | {len(missing)} ({missing_people} people: "
        + ", ".join(f"`{r['reference']}` {r['organisation']['name'].split(' Co.')[0]}" for r in missing) + ") |",
        "",
        "| venue | id | site visit | open | visit (min) | per visit | documents | wanted by (delegations / people) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for venue in prog["venues"]:
        windows = ", ".join(f"{w['start'][8:10]} Jan {w['start'][11:16]}–{w['end'][11:16]}" for w in venue["openingWindows"]) or "–"
        docs = venue.get("restrictedAccess")
        docs = " or ".join(docs["documents"]) + f", by {docs['deadline'][8:10]} Jan {docs['deadline'][11:16]}" if docs else "–"
        wanting = [r for r in regs if venue["id"] in r.get("preferredVisits", [])]
        lines.append(
            f"| {venue['name']['en']} | `{venue['id']}` | {'yes' if venue.get('isSiteVisit', True) else 'no'} | {windows} "
            f"| {venue['visitMinutes']} | {venue['capacityPerVisit']} | {docs} "
            f"| {len(wanting) if venue.get('isSiteVisit', True) else '–'}"
            f"{' / ' + str(people(wanting)) if venue.get('isSiteVisit', True) else ''} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed files instead of writing")
    parser.add_argument("--validate", action="store_true", help="validate against the JSON Schemas and check consistency")
    parser.add_argument("--summary", action="store_true", help="print the summary tables")
    args = parser.parse_args()
    files = outputs()
    if args.check:
        stale = [name for name, text in files.items()
                 if not (HERE / name).exists() or (HERE / name).read_text(encoding="utf-8") != text]
        for name in stale:
            print(f"{name} differs from what generate.py writes")
        if not stale:
            print("programme.json and registrations.json are up to date")
        sys.exit(1 if stale else 0)
    if args.summary:
        print(summary(files))
        return
    if args.validate:
        sys.exit(0 if validate(files) else 1)
    for name, text in files.items():
        (HERE / name).write_text(text, encoding="utf-8")
        print(f"wrote {HERE / name}")


if __name__ == "__main__":
    main()
