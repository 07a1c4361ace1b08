"""Every tolerance of the evidence tests, in one place.

Published numbers are printed to 4 decimals: agreement means |ours - published| <= half a unit
in the last printed digit (plus float slack). Cross-checks against other code are tighter.
"""

TOL = {
    "published_4dp": 0.5e-4 + 1e-12,  # metafor's printed results (4 decimals)
    "published_2dp": 0.5e-2 + 1e-12,  # 2-decimal published figures (I^2 92.22%, H^2 12.86, 62.79)
    "published_3dp": 0.5e-3 + 1e-12,  # P = .003
    "statsmodels": 1e-9,  # same definition, different code (PM iterations stop at ~1e-12)
    "batch": 1e-8,  # batch vs one-at-a-time fits (issue 4: equal to 1e-8)
    "closed_form": 1e-12,  # our formula vs the same formula written out in the test
}
