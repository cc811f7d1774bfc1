"""connector/snapshot.py: batches sized to one page, joined rows split into referral and consents."""

from __future__ import annotations

from connector.snapshot import _split, batches


def test_batches_keep_the_estimated_rows_below_the_page_size():
    weights = {"a": 1, "b": 3, "c": 1, "d": 5, "e": 1}
    got = list(batches("abcde", 6, lambda k: weights[k]))
    assert got == [["a", "b", "c"], ["d"], ["e"]]
    assert all(sum(weights[k] for k in b) < 6 or len(b) == 1 for b in got)


def test_a_key_heavier_than_a_page_gets_a_batch_of_its_own():
    assert list(batches("ab", 3, lambda k: 10)) == [["a"], ["b"]]


def test_ninety_nine_referrals_with_one_consent_each_fit_one_page_of_100():
    assert [len(b) for b in batches([str(n) for n in range(400)], 100)] == [99, 99, 99, 99, 4]


def test_a_joined_row_without_a_consent_has_none():
    own, consent = _split({"id": "1", "ssp_uid": "r-1", "consent_id": "", "consent_ssp_uid": None})
    assert own == {"id": "1", "ssp_uid": "r-1"} and consent is None


def test_a_joined_row_splits_the_consent_columns_off_without_their_prefix():
    own, consent = _split({"id": "1", "ssp_uid": "r-1", "consent_id": "7", "consent_ssp_uid": "c-7",
                           "consent_revoked_date": "2026-10-01"})
    assert own == {"id": "1", "ssp_uid": "r-1"}
    assert consent == {"id": "7", "ssp_uid": "c-7", "revoked_date": "2026-10-01"}
