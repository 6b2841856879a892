"""Command-line helpers shared by the benchmark runners."""


def int_list(s):
    """'512,2048' -> [512, 2048]."""
    return [int(v) for v in s.split(",") if v.strip()]


def str_list(s):
    """'valid, same' -> ['valid', 'same']."""
    return [v.strip() for v in s.split(",") if v.strip()]
