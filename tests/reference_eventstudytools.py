"""Published reference values for the EventStudyTools "SP500Example".

Provenance
----------
Data: ``../shared/data/reference/eventstudytools_sp500/`` (request, firm and market files of the
CRAN ``EventStudy`` package, repository EventStudyTools/api-wrapper.r, commit 60a1e36). 16 S&P 500
index additions 1997-1999.

Conventions behind the numbers: simple returns; day 0 is the first trading day on or after the
event date; event window [-2, +2]; estimation window of 120 returns ending at day -11, i.e.
[-130, -11]; market model by OLS; residual sigma with T - 2 degrees of freedom; Patell Z and BMP
use the forecast-error-corrected standardised ARs.

The values were agreed by three independent implementations (as stated in the project's issue
tracker, issue 3) and are reproduced here to 1e-6.
"""

from __future__ import annotations

REL_DAYS = (-2, -1, 0, 1, 2)

AAR = (-0.002192074, -0.009459687, -0.004315884, 0.062165422, 0.010258004)
AAR_CROSS_SECTIONAL_T = (-0.3156693, -1.8647528, -0.6284872, 5.2592946, 1.0038700)
CAAR = (-0.002192074, -0.011651761, -0.015967645, 0.046197777, 0.056455781)
CAAR_WINDOW = (-2, 2)
CAAR_WINDOW_T = 3.7673342
PATELL_Z = (-0.2165484, -1.4230342, -0.8918578, 10.2377342, 0.8708245)
BMP_T = (-0.2592154, -2.0060954, -0.7719331, 2.6439890, 0.5492891)

ADOBE_EVENT_ID = "75510"
ADOBE_ALPHA = 0.00150918
ADOBE_BETA = 0.94742189
ADOBE_SIGMA = 0.0283986
ADOBE_AR = (0.00889721, -0.03059584, 0.00602630, 0.06890608, 0.03525080)

TOLERANCE = 1e-6
