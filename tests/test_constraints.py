"""The parameter constraints scikit-learn's own do not express (``sklvgg/_constraints.py``)."""

import threading

import pytest
from sklearn.utils._param_validation import InvalidParameterError, validate_parameter_constraints

from sklvgg._constraints import ImageSizes, LayerNames

NAMES = ("block1_conv1", "block1_pool", "fc2")


@pytest.mark.parametrize("value", ["fc2", ["block1_conv1", "fc2"], ("block1_pool",)])
def test_layer_names_accepts_a_name_or_distinct_names(value):
    assert LayerNames(NAMES).is_satisfied_by(value)


@pytest.mark.parametrize(
    "value, fault",
    [
        ("fc3", "'fc3' is not a layer of VGG16"),
        ([], "an empty list"),
        ((), "an empty tuple"),
        (["fc2", "fc9", 3], "'fc9', 3 are not layers of VGG16"),
        (["fc2", "block1_pool", "fc2"], "'fc2' is repeated"),
        (["fc2", "fc2", "block1_pool", "block1_pool"], "'fc2', 'block1_pool' are repeated"),
        (3, ""),
        ({"fc2"}, ""),
    ],
)
def test_layer_names_names_the_culprit(value, fault):
    constraint = LayerNames(NAMES)
    assert constraint.fault(value) == fault
    assert not constraint.is_satisfied_by(value)
    text = str(constraint)
    assert text.startswith("a layer name or a non-empty list (or tuple) of distinct layer names among")
    assert "'block1_conv1', 'block1_pool', 'fc2'" in text  # in network order
    assert text.endswith(f"({fault})" if fault else "}")


def test_layer_names_message_is_the_one_of_the_value_checked_in_this_thread():
    constraint = LayerNames(NAMES)
    constraint.is_satisfied_by("fc3")
    other = threading.Thread(target=constraint.is_satisfied_by, args=(["fc2", "fc2"],))
    other.start()
    other.join()
    assert str(constraint).endswith("('fc3' is not a layer of VGG16)")


def test_layer_names_in_scikit_learns_validation_names_parameter_and_fault():
    with pytest.raises(
        InvalidParameterError, match=r"'layer' parameter .* \('fc3' is not a layer of VGG16\)"
    ):
        validate_parameter_constraints({"layer": [LayerNames(NAMES)]}, {"layer": "fc3"}, caller_name="T")


@pytest.mark.parametrize("value", [[32], (32, 64), [224, 48, 1000]])
def test_image_sizes_accepts_distinct_integers_at_least_the_minimum(value):
    assert ImageSizes(32).is_satisfied_by(value)


@pytest.mark.parametrize("value", [[], (), 64, [31], [32, 32], [32.0], [True, 64], ["64"], None])
def test_image_sizes_refuses(value):
    constraint = ImageSizes(32)
    assert not constraint.is_satisfied_by(value)
    assert str(constraint) == "a non-empty list (or tuple) of distinct image sizes, integers >= 32"
