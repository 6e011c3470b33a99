"""Cross-event tests of abnormal returns (pure computation on arrays).

``base`` holds what every test shares (the alternative, :class:`TestResult`, the inputs),
``parametric`` and ``nonparametric`` the tests, ``battery`` runs them all on a study's
arrays and lays out the tables, ``cross_section`` regresses CARs on event attributes,
``long_horizon`` tests BHARs (Lyon-Barber-Tsai) and ``calendar_time`` fits calendar-time
portfolios.
Imports only the ground floor and windows; study, backtest and validation call it.
"""

from marketreact.inference.base import (
    TEST_NAMES,
    TEST_TITLES,
    WINDOW_TITLES,
    Alternative,
    CrossEventTests,
    TestInputs,
    TestResult,
    window_columns,
)
from marketreact.inference.battery import (
    aar_table,
    aggregate_table,
    cross_event_tests,
    cross_event_tests_multi,
)
from marketreact.inference.calendar_time import CalendarTimeResult, calendar_time_portfolio
from marketreact.inference.intraday import rinaudo_saha
from marketreact.inference.long_horizon import (
    bhar_t,
    bootstrapped_skewness_adjusted_t,
    long_horizon_tests,
    skewness_adjusted_t,
)
from marketreact.inference.nonparametric import (
    average_ranks,
    bootstrap,
    bootstrap_means,
    generalized_sign,
    rank_tests,
    sign_test,
    wilcoxon_signed_rank,
)
from marketreact.inference.parametric import (
    EstimationSummary,
    average_cross_correlation,
    brown_warner_1980,
    brown_warner_1985,
    cross_sectional_t,
    kolari_pynnonen,
    lamb,
    patell,
    summarise_estimation,
)

__all__ = [
    "TEST_NAMES",
    "TEST_TITLES",
    "WINDOW_TITLES",
    "Alternative",
    "CalendarTimeResult",
    "CrossEventTests",
    "EstimationSummary",
    "TestInputs",
    "TestResult",
    "aar_table",
    "aggregate_table",
    "average_cross_correlation",
    "average_ranks",
    "bhar_t",
    "bootstrap",
    "bootstrap_means",
    "bootstrapped_skewness_adjusted_t",
    "brown_warner_1980",
    "brown_warner_1985",
    "calendar_time_portfolio",
    "cross_event_tests",
    "cross_event_tests_multi",
    "cross_sectional_t",
    "generalized_sign",
    "kolari_pynnonen",
    "lamb",
    "long_horizon_tests",
    "patell",
    "rank_tests",
    "rinaudo_saha",
    "sign_test",
    "skewness_adjusted_t",
    "summarise_estimation",
    "wilcoxon_signed_rank",
    "window_columns",
]
