import numpy as np
import pytest

from store.errors import SchemaError
from store.schema import OBJECT_COLUMNS, SETS, set_mask, sets_code, validate_columns


def _columns(n=3):
    return {name: np.zeros(n, dtype=dtype) for name, dtype in OBJECT_COLUMNS.items()}


class TestSetsCode:
    def test_bits_follow_set_order(self):
        assert sets_code(["train"]) == 1
        assert sets_code(["hp_test", "fo_test"]) == 0b1100

    def test_unknown_set_names_the_sets(self):
        with pytest.raises(SchemaError, match="unknown set 'test'; the sets are train, val"):
            sets_code(["test"])

    def test_mask_finds_members_of_several_sets(self):
        codes = np.array([sets_code(["hp_test", "fo_test"]), sets_code(["fo_test"]), 0], np.uint8)
        assert set_mask(codes, "fo_test").tolist() == [True, True, False]
        assert set_mask(codes, "hp_test").tolist() == [True, False, False]
        assert len(SETS) <= 8  # one uint8 holds every set bit


class TestValidateColumns:
    def test_valid_columns_give_their_length(self):
        assert validate_columns(_columns(5)) == 5

    def test_every_problem_is_listed_with_the_allowed_names(self):
        columns = _columns()
        del columns["ra"]
        columns["colour"] = np.zeros(3)
        columns["label"] = np.zeros(3, dtype=np.float64)
        with pytest.raises(SchemaError) as error:
            validate_columns(columns)
        message = str(error.value)
        assert "missing column 'ra'" in message
        assert "unexpected column 'colour'" in message
        assert "column 'label' has dtype float64, not int8" in message
        assert "allowed columns: object_id, survey" in message

    def test_lengths_must_agree(self):
        columns = _columns()
        columns["dec"] = np.zeros(4)
        with pytest.raises(SchemaError, match=r"columns differ in length: \[3, 4\]"):
            validate_columns(columns)

    def test_columns_must_be_one_dimensional(self):
        columns = _columns()
        columns["ra"] = np.zeros((3, 2))
        with pytest.raises(SchemaError, match="column 'ra' has 2 dimensions, not 1"):
            validate_columns(columns)
