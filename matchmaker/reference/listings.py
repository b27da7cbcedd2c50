"""Vocabularies of research results and technical needs: fields, maturity, TRL, IP and transfer modes."""

from __future__ import annotations

from .codes import code_list

# The technology fields of the national technology-contract statistics (全国技术市场统计).
TECH_FIELDS = code_list(
    "tech_fields",
    [
        ("electronic_information", "电子信息", "Electronic information"),
        ("advanced_manufacturing", "先进制造", "Advanced manufacturing"),
        ("aerospace", "航空航天", "Aerospace"),
        ("modern_transport", "现代交通", "Modern transport"),
        ("agriculture", "农业", "Agriculture"),
        ("new_materials", "新材料及其应用", "New materials and applications"),
        ("new_energy", "新能源与高效节能", "New energy and energy efficiency"),
        ("environment", "环境保护与资源综合利用", "Environmental protection and resource recycling"),
        ("biomedicine", "生物医药和医疗器械", "Biomedicine and medical devices"),
        ("nuclear", "核应用", "Nuclear applications"),
        ("urban_social", "城市建设与社会发展", "Urban construction and social development"),
    ],
)

MATURITY = code_list(
    "maturity",
    [
        ("research", "研发阶段", "In research"),
        ("sample", "已有样品", "Sample available"),
        ("pilot_small", "通过小试", "Lab-scale trial passed"),
        ("pilot", "通过中试", "Pilot-scale trial passed"),
        ("mass", "可以量产", "Ready for mass production"),
    ],
)

# A typical GB/T 22900-2022 level per stage, used when an owner gives a stage but no TRL:
# research 3 - analysis and experiments confirm the key functions, the usual state of a paper;
# sample 5 - a sample exists, so key functions have been shown outside the bench (relevant env.);
# pilot_small 6 - a lab-scale trial runs a prototype in a relevant environment;
# pilot 7 - a pilot line is the "typical environment" demonstration of level 7;
# mass 8 - "can be mass-produced" means the real system is complete and verified; level 9 also
#   requires proof in sustained operation, which the listing does not claim.
MATURITY_DEFAULT_TRL: dict[str, int] = {
    "research": 3,
    "sample": 5,
    "pilot_small": 6,
    "pilot": 7,
    "mass": 8,
}

# GB/T 22900 technology readiness levels, the scale for technology-development projects.
TRL_LEVELS = code_list(
    "trl_levels",
    [
        ("1", "发现基本原理或看到基本原理的报告", "Basic principles observed or reported"),
        ("2", "形成技术概念或开发方案", "Technology concept or development plan formulated"),
        ("3", "关键功能分析和实验结论成立", "Key functions confirmed by analysis and experiment"),
        ("4", "研究室环境中关键功能仿真结论成立", "Key functions validated by simulation in the laboratory"),
        (
            "5",
            "相关环境中关键功能仿真结论成立",
            "Key functions validated by simulation in a relevant environment",
        ),
        (
            "6",
            "相关环境中演示模型或原型系统验证",
            "Demonstration model or prototype validated in a relevant environment",
        ),
        (
            "7",
            "典型环境中演示模型或原型系统验证",
            "Demonstration model or prototype validated in a typical environment",
        ),
        ("8", "实际系统完成并通过实际验证", "Actual system completed and qualified by actual verification"),
        ("9", "实际系统通过任务运行的成功考验", "Actual system proven in successful operation"),
    ],
)

IP_STATUS = code_list(
    "ip_status",
    [
        ("invention_granted", "发明专利（已授权）", "Invention patent (granted)"),
        ("invention_filed", "发明专利（申请中）", "Invention patent (pending)"),
        ("utility_model", "实用新型", "Utility model"),
        ("design", "外观设计", "Design patent"),
        ("software_copyright", "软件著作权", "Software copyright"),
        ("know_how", "技术秘密/非专利技术", "Know-how / unpatented technology"),
        ("none", "无", "None"),
    ],
)

TRANSFER_MODES = code_list(
    "transfer_modes",
    [
        ("transfer", "技术转让", "Assignment"),
        ("license", "技术许可", "Licence"),
        ("equity", "作价入股", "Equity contribution"),
        ("co_develop", "合作开发", "Joint development"),
        ("commissioned", "委托开发", "Commissioned development"),
        ("other", "其他", "Other"),
    ],
)

ORG_KINDS = code_list(
    "org_kinds",
    [
        ("university", "高等院校", "University"),
        ("institute", "科研院所", "Research institute"),
        ("enterprise", "企业", "Enterprise"),
        ("bureau", "科技管理部门", "Science and technology bureau"),
        ("agency", "技术转移机构", "Technology transfer agency"),
    ],
)


def default_trl(maturity: str | None) -> int | None:
    """The TRL to assume for a maturity stage when the owner gave none."""
    return MATURITY_DEFAULT_TRL.get(maturity) if maturity else None
