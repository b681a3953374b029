"""The numbers the paper published (Zhou et al., ICCV 2021, Tables 1-3), so that every table the zoo renders can
show them beside its own measurements. Error rates in percent, as printed; L-inf eps 8/255; Tables 1 and 2 are
oblivious (crafted on the bare target model). Keys use the zoo's attack names ("none" is the clean error) and
the labels of :mod:`training.paper.tables_2_3` (data set, target model, defense)."""
from __future__ import annotations

PGD_STEPS = 20
"""The steps of every PGD_N and PGD_T of the paper (Table 3's white-box PGD_N does not say; taken as the same)."""

TABLE1_COLUMNS = ("none", "ddn", "ti_dim", "pgd_n", "pgd_t", "autoattack", "sta", "sta_t", "fwa")
_TABLE1_ROWS = {
    ("SVHN", "DOA"): (6.37, 7.48, 37.84, 38.96, 32.90, 39.09, 17.03, 19.10, 65.89),
    ("SVHN", "AT"): (7.16, 10.49, 40.10, 31.27, 25.78, 32.56, 20.90, 21.10, 45.26),
    ("SVHN", "JPEG"): (9.78, 11.25, 92.04, 95.67, 86.60, 97.56, 37.81, 33.65, 93.07),
    ("SVHN", "TVM"): (10.01, 21.37, 88.94, 94.53, 75.17, 95.84, 27.76, 23.66, 96.61),
    ("SVHN", "APE-G"): (10.40, 11.92, 89.45, 93.20, 83.40, 81.92, 43.75, 42.37, 86.57),
    ("SVHN", "HGD"): (10.12, 10.99, 90.83, 57.35, 45.00, 62.25, 40.43, 36.53, 67.44),
    ("SVHN", "CAFD"): (7.65, 14.90, 58.57, 14.64, 10.63, 13.57, 19.92, 18.48, 58.07),
    ("SVHN", "CAFD′"): (9.79, 16.34, 61.49, 15.91, 13.46, 14.87, 22.19, 22.06, 60.82),
    ("CIFAR-10", "DOA"): (7.82, 10.42, 28.53, 47.81, 32.37, 47.43, 17.51, 18.13, 50.65),
    ("CIFAR-10", "AT"): (10.34, 18.07, 31.78, 31.77, 30.17, 30.61, 21.16, 20.69, 39.70),
    ("CIFAR-10", "JPEG"): (13.32, 16.10, 38.68, 51.41, 50.34, 58.84, 47.76, 47.35, 85.27),
    ("CIFAR-10", "TVM"): (9.65, 23.15, 39.46, 68.79, 56.71, 66.46, 30.76, 31.90, 90.81),
    ("CIFAR-10", "APE-G"): (8.18, 11.75, 34.19, 78.08, 62.31, 76.65, 24.08, 21.40, 76.66),
    ("CIFAR-10", "HGD"): (7.64, 9.18, 35.50, 46.87, 31.18, 45.73, 19.96, 18.27, 46.87),
    ("CIFAR-10", "CAFD"): (8.90, 9.24, 26.57, 12.79, 10.58, 11.80, 18.19, 17.17, 35.59),
    ("CIFAR-10", "CAFD′"): (8.95, 9.32, 29.85, 15.45, 12.67, 14.27, 19.03, 18.10, 39.49),
}
TABLE1 = {key: dict(zip(TABLE1_COLUMNS, row)) for key, row in _TABLE1_ROWS.items()}
"""(data set, defense) -> {attack: error %}: Table 1, VGG-19 target model, oblivious."""

TABLE2_COLUMNS = ("pgd_n", "pgd_t", "ddn", "autoattack", "sta", "sta_t")
_TABLE2_ROWS = {
    ("SVHN", "VGG-19", "CAFD"): (14.64, 10.63, 14.90, 13.57, 19.92, 18.48),
    ("SVHN", "ResNet-50", None): (100, 100, 99.98, 100, 99.87, 99.71),
    ("SVHN", "ResNet-50", "CAFD"): (11.01, 10.62, 15.53, 18.80, 22.34, 21.91),
    ("SVHN", "WRN-28-20", None): (97.71, 93.85, 100, 97.20, 96.79, 96.63),
    ("SVHN", "WRN-28-20", "CAFD"): (21.33, 14.14, 16.60, 23.17, 23.51, 24.87),
    ("CIFAR-10", "VGG-19", "CAFD"): (12.79, 10.58, 9.24, 11.8, 18.19, 17.17),
    ("CIFAR-10", "ResNet-50", None): (100, 100, 99.99, 100, 100, 99.97),
    ("CIFAR-10", "ResNet-50", "CAFD"): (18.86, 13.19, 9.25, 16.25, 17.51, 17.07),
    ("CIFAR-10", "WRN-28-20", None): (100, 99.91, 100, 100, 99.99, 99.66),
    ("CIFAR-10", "WRN-28-20", "CAFD"): (20.18, 12.45, 7.84, 17.23, 18.16, 17.93),
}
TABLE2 = {key: dict(zip(TABLE2_COLUMNS, row)) for key, row in _TABLE2_ROWS.items()}
"""(data set, target model, defense or None for the bare model) -> {attack: error %}: Table 2, oblivious.
The paper gives no clean errors for ResNet-50 and WRN-28-20."""

TABLE3 = {
    ("APE-G′", "bpda"): {("pgd_n", 10): 98.32, ("pgd_n", 20): 99.12},
    ("HGD′", "bpda"): {("pgd_n", 10): 79.50, ("pgd_n", 20): 85.04},
    ("CAFD", "bpda"): {("pgd_n", 10): 47.74, ("pgd_n", 20): 51.25},
    ("APE-G", "whitebox"): {("ddn", None): 97.85},
    ("HGD", "whitebox"): {("ddn", None): 97.10},
    ("CAFD", "whitebox"): {("ddn", None): 93.23, ("pgd_n", PGD_STEPS): 95.18},
    ("APE-G′", "whitebox"): {("pgd_n", 20): 98.86},
    ("HGD′", "whitebox"): {("pgd_n", 20): 98.13},
    ("APE-G′", "graybox"): {("ddn", None): 11.07, ("pgd_n", 20): 81.19},
    ("HGD′", "graybox"): {("ddn", None): 10.93, ("pgd_n", 20): 65.03},
    ("CAFD", "graybox"): {("ddn", None): 10.90, ("pgd_n", 20): 56.76},
}
"""(defense, threat model) -> {(attack, PGD steps or None): error %}: Table 3, VGG-19 on CIFAR-10. The paper's
white-box PGD_N does not state its steps; it is listed as 20, the steps of every other PGD_N of the paper."""


def table1_row(dataset: str, defense: str) -> dict[str, float] | None:
    """The paper's Table 1 row of ``defense`` on ``dataset`` (labels as "CIFAR-10", "CAFD"), or None."""
    return TABLE1.get((dataset, defense))


def table2_row(dataset: str, target: str, defense: str | None) -> dict[str, float] | None:
    """The paper's Table 2 cells of ``target`` (with ``defense``, or bare for None) on ``dataset``, or None."""
    return TABLE2.get((dataset, target, defense))


def same_steps(attack: str, steps: int | None) -> bool:
    """Whether a cell run with ``steps`` is comparable with the paper's: steps matter for PGD only (DDN's and the
    others' are not part of the paper's row names), and a PGD cell of unknown steps is taken as the paper's."""
    return attack not in ("pgd_n", "pgd_t") or steps in (None, PGD_STEPS)


def table3_cell(defense: str, threat: str, attack: str, steps: int | None) -> float | None:
    """The paper's Table 3 error of ``defense`` + VGG-19 on CIFAR-10 under ``threat``, or None if unpublished.
    PGD_N appears there at 10 and 20 steps; for every other attack ``steps`` is ignored."""
    cells = TABLE3.get((defense, threat), {})
    if attack != "pgd_n":
        return cells.get((attack, None))
    return cells.get((attack, PGD_STEPS if steps is None else steps))
