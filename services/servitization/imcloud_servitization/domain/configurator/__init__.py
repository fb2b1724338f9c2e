"""The configurator of a product family: its definition, the interactive domains, minimal
explanations of conflicts and the cheapest completion (OR-Tools CP-SAT), and the product a
complete configuration selects."""

from imcloud_servitization.domain.configurator.definition import (
    FamilyDefinition,
    parse_definition,
)
from imcloud_servitization.domain.configurator.results import (
    Configuration,
    OptionDomain,
    SelectedBomLine,
    SelectedProduct,
    SelectedStep,
)
from imcloud_servitization.domain.configurator.solver import Configurator

__all__ = [
    "Configuration",
    "Configurator",
    "FamilyDefinition",
    "OptionDomain",
    "SelectedBomLine",
    "SelectedProduct",
    "SelectedStep",
    "parse_definition",
]
