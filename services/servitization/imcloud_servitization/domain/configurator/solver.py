"""The configurator: one CP-SAT model per family revision, asked per request.

Every choice option has one Boolean per value; every number option one Boolean per
*segment*: the constants the rules name about it (condition bounds, range rules, values in
conditions and tables) cut its grid min..max..step into runs of values that every rule
treats alike, so a run is feasible as a whole or not at all. Exactly one Boolean per option
holds. That makes the model finite and small however fine the step, and exact: the range a
number option is offered is the union of its feasible runs, and every value in it completes.

Each rule has an enforcement literal, fixed true when configuring; leaving them free and
passing them as assumptions is how a conflict is explained: the solver names a sufficient
subset, which deletion then makes minimal.

Interactive domains are many small questions ("can this value still be completed?") on one
model with the selections as assumptions: the model is pure SAT, so they go to an incremental
SAT solver (the same clauses, in PySAT), which answers each in microseconds where a CP-SAT
solve costs milliseconds of loading. U holds the (option, value) literals not yet seen in a
valid configuration; every literal of a solution is supported; a literal still in U is asked
about on its own, with the solver preferring U's literals so that each solution covers many,
and an unsatisfiable answer is the proof that it cannot be completed.

Prices enter the cheapest completion in hundredths of a cent. Within a segment a number
option's price is linear in its value, so the cheapest value of a segment is one of its two
ends, known beforehand: each segment literal carries that end's price and no integer
variable is needed.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pysat.card import CardEnc, EncType
from pysat.solvers import Solver

from imcloud_core.errors import FieldViolation, InvalidArgument, Unavailable
from imcloud_servitization.domain.configurator.conditions import describe, in_bounds
from imcloud_servitization.domain.configurator.definition import (
    AllOf,
    AnyOf,
    ChoiceOption,
    Condition,
    ConditionTerm,
    ExcludesRule,
    FamilyDefinition,
    InRange,
    Not,
    NumberOption,
    OptionTerm,
    OptionValue,
    RangeRule,
    RequiresRule,
    Rule,
    TableRule,
    TextOption,
    ValueIn,
    is_number,
)
from imcloud_servitization.domain.configurator.results import (
    Configuration,
    OptionDomain,
    SelectedProduct,
)
from imcloud_servitization.domain.configurator.selection import (
    Selection,
    evaluate_formulas,
    rule_holds,
    select_product,
    unit_price,
)

# Prices in the objective: hundredths of a cent, so cent prices are exact.
PRICE_SCALE = 10_000
# A domain solve only needs some solution; a time-out is retried with twice the time until
# this much, then the request fails rather than hold a worker.
FIRST_TIME_LIMIT_S = 0.5
LONGEST_TIME_LIMIT_S = 32.0
# The largest weight of a lexicographic tie-break objective.
LEXICOGRAPHIC_SPAN = 2**40
INVALID = "the configuration is not valid"
# The model is pure SAT over a few thousand Booleans: symmetry detection, probing, the
# linear relaxation, presolve and inprocessing cost more than they save on the small solves
# of a completion or an explanation (measured with tests/bench/configurator_bench.py).
FAST_PARAMETERS: Mapping[str, int | bool] = {
    "symmetry_level": 0,
    "cp_model_probing_level": 0,
    "linearization_level": 0,
    "cp_model_presolve": False,
    "use_sat_inprocessing": False,
}
# Glucose 4: quick on many solves under assumptions, each on a clause set like the last.
SAT_SOLVER = "glucose4"

if TYPE_CHECKING:
    from ortools.sat.python import cp_model

    Literal = cp_model.LiteralT
Definable = ChoiceOption | NumberOption


@dataclass(frozen=True)
class _Outcome:
    """A solution (values by variable index), or None and the assumptions the solver found
    sufficient for infeasibility (literal indices)."""

    solution: list[int] | None
    core: tuple[int, ...] = ()


@dataclass(frozen=True)
class _Segment:
    """Grid positions first..last of a number option, treated alike by every rule."""

    first: int
    last: int


class Configurator:
    """Compiled once per family revision; its methods are safe to call from several
    threads at once (each request works on its own copy of the model)."""

    def __init__(self, definition: FamilyDefinition) -> None:
        self.definition = definition
        self._options: dict[str, Definable] = {
            option.name: option
            for option in definition.options
            if not isinstance(option, TextOption)
        }
        # Imported here, not with the module: cp_model loads pandas, a second of
        # every process start (and most processes never configure a product).
        from ortools.sat.python import cp_model

        self._model = cp_model.CpModel()
        self._true = self._model.new_bool_var("true")
        self._model.add_bool_or([self._true])
        self._segments = {
            option.name: _segments(option, definition)
            for option in definition.options
            if isinstance(option, NumberOption)
        }
        # Per option, the literal of each value (choice) or segment (number).
        self._literals: dict[str, list[cp_model.IntVar]] = {}
        for name, option in self._options.items():
            count = (
                len(option.values)
                if isinstance(option, ChoiceOption)
                else len(self._segments[name])
            )
            literals = [self._model.new_bool_var(f"{name}#{index}") for index in range(count)]
            self._model.add_exactly_one(literals)
            self._literals[name] = literals
        self._condition_literals: dict[Condition, Literal] = {}
        self._rule_literals = [
            self._model.new_bool_var(f"rule:{rule.name}") for rule in definition.rules
        ]
        for rule, enforced in zip(definition.rules, self._rule_literals, strict=True):
            self._add_rule(rule, enforced)
        self._price_terms = self._price_objective()
        self._clauses = _clauses(self._model)
        # The literals no valid configuration sets at all: no selection can make them
        # completable (more selections, fewer solutions), so a request starts without them.
        # Found once here; the open configuration's domains are kept as they are.
        self._unsupportable: frozenset[int] = frozenset()
        self._open_supported: dict[str, list[bool]] | None = None
        try:
            open_supported = self._supported(Selection(definition))
        except InvalidArgument:
            return  # no valid product at all: each request explains why
        self._unsupportable = frozenset(
            self._literals[name][position].index
            for name, flags in open_supported.items()
            for position, flag in enumerate(flags)
            if not flag
        )
        self._open_supported = open_supported

    # Public ------------------------------------------------------------------------------

    def configure(self, selections: Mapping[str, object]) -> Configuration:
        """The domain of every option given the selections; raises InvalidArgument naming a
        minimal set of violated rules, or the selections an option cannot take."""
        selection = self._read(selections)
        if self._is_complete(selection):
            self._check_rules(selection)
            return self._configuration(selection)
        supported = self._supported(selection)
        domains = []
        for option in self.definition.options:
            name = option.name
            if isinstance(option, TextOption):
                domains.append(OptionDomain(name, selection.texts.get(name), None, None))
            elif name in selection.indices:
                value = selection.value_of(name)
                if isinstance(option, ChoiceOption):
                    domains.append(OptionDomain(name, value, (value,), None))  # type: ignore[arg-type]
                else:
                    domains.append(OptionDomain(name, value, None, ((value, value),)))  # type: ignore[arg-type]
            elif isinstance(option, ChoiceOption):
                values = tuple(
                    choice.value
                    for index, choice in enumerate(option.values)
                    if supported[name][index]
                )
                domains.append(OptionDomain(name, None, values, None))
            else:
                domains.append(
                    OptionDomain(name, None, None, self._ranges(option, supported[name]))
                )
        return Configuration(
            selections=selection.as_mapping(),
            complete=False,
            domains=tuple(domains),
            derived={},
            unit_price=None,
        )

    def complete(self, selections: Mapping[str, object]) -> Configuration:
        """The cheapest valid configuration keeping the selections (ties: each option's
        first value in the definition's order, the lowest number)."""
        selection = self._read(selections)
        if self._is_complete(selection):
            self._check_rules(selection)
            return self._configuration(selection)
        model = self._fixed(selection)
        open_options = [name for name in self._options if name not in selection.indices]
        # First the cheapest price; then, price fixed, the options at their first values in
        # the definition's order: lexicographic, a chunk of options per solve, as many as
        # weights that keep the order fit in an int64 objective.
        priced = model.clone()
        objective = sum(coefficient * literal for literal, coefficient in self._price_terms)
        priced.minimize(objective)
        solution = self._solve(priced).solution
        if solution is None:
            raise self._conflict(selection)
        if self._price_terms:
            best = sum(weight * _value(solution, lit) for lit, weight in self._price_terms)
            model.add(objective == best)
        positions = self._positions(solution)
        for chunk in self._chunks(open_options):
            if any(positions[name] for name in chunk):
                earliest = model.clone()
                earliest.minimize(
                    sum(
                        weight * position * literal
                        for name, weight in chunk.items()
                        for position, literal in enumerate(self._literals[name])
                    )
                )
                better = self._solve(earliest).solution
                assert better is not None  # the previous solution still satisfies it
                positions = self._positions(better)
            for name in chunk:
                model.add_bool_or([self._literals[name][positions[name]]])
                selection.indices[name] = self._value_index(name, positions[name])
        return self._configuration(selection)

    def selected(self, selections: Mapping[str, object]) -> SelectedProduct:
        """The BOM, routing, recipes, formulas and price of a complete valid configuration."""
        selection = self._read(selections)
        if not self._is_complete(selection):
            missing = [
                option.name
                for option in self.definition.options
                if (option.name in self._options and option.name not in selection.indices)
                or (
                    isinstance(option, TextOption)
                    and option.required
                    and option.name not in selection.texts
                )
            ]
            raise InvalidArgument(
                "the configuration is not complete",
                violations=(
                    FieldViolation("selections", f"has no value for {', '.join(missing)}"),
                ),
            )
        self._check_rules(selection)
        product = select_product(self.definition, selection)
        if not product.routing:
            raise InvalidArgument(
                "the configuration selects no routing step: nothing would make it",
                violations=(FieldViolation("selections", "selects no step of the routing"),),
            )
        return product

    # Selections --------------------------------------------------------------------------

    def _read(self, selections: Mapping[str, object]) -> Selection:
        """The selections as grid or choice positions; InvalidArgument for any an option
        cannot take (checked before any solving)."""
        violations: list[FieldViolation] = []
        selection = Selection(self.definition)
        for name, value in selections.items():
            field = f"selections.{name}"
            option = self.definition.option(name)
            if value is None:
                continue
            if option is None:
                violations.append(FieldViolation(field, "names no option of this family"))
            elif isinstance(option, ChoiceOption):
                index = (
                    option.index_of(value) if isinstance(value, str) or is_number(value) else None
                )
                if not isinstance(value, str) and not is_number(value):
                    violations.append(FieldViolation(field, "must be a string or a number"))
                elif index is None:
                    choices = ", ".join(str(choice.value) for choice in option.values)
                    violations.append(
                        FieldViolation(field, f"{value!r} is not among the choices: {choices}")
                    )
                else:
                    selection.indices[name] = index
            elif isinstance(option, NumberOption):
                violation = _number_violation(option, value)
                if violation:
                    violations.append(FieldViolation(field, violation))
                else:
                    selection.indices[name] = option.index_of(float(value))  # type: ignore[arg-type, assignment]
            else:
                violation = _text_violation(option, value)
                if violation:
                    violations.append(FieldViolation(field, violation))
                else:
                    selection.texts[name] = value  # type: ignore[assignment]
        if violations:
            raise InvalidArgument(INVALID, violations=tuple(violations))
        return selection

    def _is_complete(self, selection: Selection) -> bool:
        return all(name in selection.indices for name in self._options) and all(
            option.name in selection.texts
            for option in self.definition.options
            if isinstance(option, TextOption) and option.required
        )

    def _check_rules(self, selection: Selection) -> None:
        values = selection.values()
        if not all(rule_holds(rule, values, self._options) for rule in self.definition.rules):
            raise self._conflict(selection)

    def _configuration(self, selection: Selection) -> Configuration:
        complete = self._is_complete(selection)
        domains = []
        for option in self.definition.options:
            value = selection.value_of(option.name)
            if isinstance(option, ChoiceOption):
                domains.append(OptionDomain(option.name, value, (value,), None))  # type: ignore[arg-type]
            elif isinstance(option, NumberOption):
                domains.append(OptionDomain(option.name, value, None, ((value, value),)))  # type: ignore[arg-type]
            else:
                domains.append(OptionDomain(option.name, value, None, None))
        derived = evaluate_formulas(self.definition, selection) if complete else {}
        return Configuration(
            selections=selection.as_mapping(),
            complete=complete,
            domains=tuple(domains),
            derived=derived,
            unit_price=unit_price(self.definition, selection, derived) if complete else None,
        )

    def _value_index(self, name: str, literal_index: int) -> int:
        """The choice position of a value literal, or the grid position a segment literal
        stands for in a completion (its cheaper end)."""
        option = self._options[name]
        if isinstance(option, ChoiceOption):
            return literal_index
        segment = self._segments[name][literal_index]
        return segment.last if self._number_price_per_step(option) < 0 else segment.first

    def _selected_literals(self, selection: Selection) -> list[cp_model.IntVar]:
        literals = []
        for name, index in selection.indices.items():
            if isinstance(self._options[name], ChoiceOption):
                literals.append(self._literals[name][index])
            else:
                segment = next(
                    position
                    for position, segment in enumerate(self._segments[name])
                    if segment.first <= index <= segment.last
                )
                literals.append(self._literals[name][segment])
        return literals

    def _fixed(self, selection: Selection) -> cp_model.CpModel:
        """A copy of the model with every rule enforced and the selections fixed."""
        model = self._model.clone()
        model.add_bool_and(self._selected_literals(selection) + self._rule_literals)
        return model

    def _chunks(self, names: Sequence[str]) -> list[dict[str, int]]:
        """The options in runs, each option with a weight larger than all later options' of
        its run together can add (a step of it outweighs them)."""
        chunks: list[dict[str, int]] = []
        run: list[str] = []
        span = 1
        for name in [*names, ""]:
            size = len(self._literals[name]) if name else 0
            if not name or span * size > LEXICOGRAPHIC_SPAN:
                weights, weight = {}, 1
                for member in reversed(run):
                    weights[member] = weight
                    weight *= len(self._literals[member])
                if run:
                    chunks.append(dict(reversed(weights.items())))
                run, span = [], 1
            if name:
                run.append(name)
                span *= size
        return chunks

    def _positions(self, solution: Sequence[int]) -> dict[str, int]:
        """Per option, the position of its literal that holds in the solution."""
        return {
            name: next(p for p, literal in enumerate(literals) if solution[literal.index])
            for name, literals in self._literals.items()
        }

    # Solving -----------------------------------------------------------------------------

    def _solve(
        self,
        model: cp_model.CpModel,
        *,
        assumptions: Sequence[Literal] = (),
    ) -> _Outcome:
        """Solves the model; a time-out is retried with more time: it proves nothing."""
        from ortools.sat.python import cp_model  # loaded with the first Configurator

        time_limit = FIRST_TIME_LIMIT_S
        while True:
            solver = cp_model.CpSolver()
            solver.parameters.num_workers = 1
            solver.parameters.max_time_in_seconds = time_limit
            for parameter, value in FAST_PARAMETERS.items():
                setattr(solver.parameters, parameter, value)
            if assumptions:
                model.clear_assumptions()
                model.add_assumptions(assumptions)
            status = solver.solve(model)
            if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                return _Outcome(list(solver.response_proto.solution))
            if status == cp_model.INFEASIBLE:
                return _Outcome(None, tuple(solver.sufficient_assumptions_for_infeasibility()))
            if status != cp_model.UNKNOWN or time_limit >= LONGEST_TIME_LIMIT_S:
                raise Unavailable(
                    f"the configurator could not decide in {time_limit:g} s "
                    f"({solver.status_name(status)})"
                )
            time_limit *= 2

    def _supported(self, selection: Selection) -> dict[str, list[bool]]:
        """Per open option, which of its literals some valid configuration sets."""
        if not selection.indices and self._open_supported is not None:
            return {name: list(flags) for name, flags in self._open_supported.items()}
        supported = {
            name: [False] * len(literals)
            for name, literals in self._literals.items()
            if name not in selection.indices
        }
        unseen = {
            literal.index: (name, position)
            for name in supported
            for position, literal in enumerate(self._literals[name])
            if literal.index not in self._unsupportable
        }
        assumptions = [_dimacs(literal.index) for literal in self._selected_literals(selection)]
        with Solver(name=SAT_SOLVER, bootstrap_with=self._enforced_clauses()) as sat:
            # The solver prefers the values not seen yet: a solution then covers many.
            sat.set_phases([_dimacs(index) for index in unseen])
            if not sat.solve(assumptions=assumptions):
                raise self._conflict(selection)
            self._mark_solution(sat, unseen, supported)
            for index in list(unseen):
                if index not in unseen:
                    continue  # a solution found since covered it
                sat.set_phases([_dimacs(index) for index in unseen])
                if sat.solve(assumptions=[*assumptions, _dimacs(index)]):
                    self._mark_solution(sat, unseen, supported)
                else:
                    del unseen[index]
        return supported

    def _enforced_clauses(self) -> list[list[int]]:
        """The clauses with every rule enforced and the unsupportable literals false."""
        return [
            *self._clauses,
            *([_dimacs(rule.index)] for rule in self._rule_literals),
            *([-_dimacs(index)] for index in self._unsupportable),
        ]

    def _mark_solution(
        self, sat: Solver, unseen: dict[int, tuple[str, int]], supported: dict[str, list[bool]]
    ) -> None:
        """Marks the literals the SAT solver's model sets supported."""
        model = sat.get_model()
        assert model is not None
        for index in [index for index in unseen if model[index] > 0]:
            name, position = unseen.pop(index)
            supported[name][position] = True

    def _conflict(self, selection: Selection) -> InvalidArgument:
        """The error naming a minimal set of rules that the selections violate together."""
        model = self._model.clone()
        selected = self._selected_literals(selection)
        if selected:
            model.add_bool_and(selected)
        outcome = self._solve(model, assumptions=self._rule_literals)
        if outcome.solution is not None:
            raise AssertionError("a conflict was explained for a satisfiable configuration")
        core = self._rule_positions(outcome.core) or list(range(len(self._rule_literals)))
        # Deletion: a rule whose removal keeps the conflict is not needed, and the solver's
        # own core of what is left drops several at once. A rule found needed stays needed in
        # every smaller set, so the rules before the position are final.
        position = 0
        while position < len(core):
            trial = core[:position] + core[position + 1 :]
            outcome = (
                self._solve(model, assumptions=[self._rule_literals[i] for i in trial])
                if trial
                else _Outcome([])
            )
            if outcome.solution is None:
                smaller = set(self._rule_positions(outcome.core))
                core = [i for i in trial if i in smaller] if smaller else trial
            else:
                position += 1
        return InvalidArgument(
            INVALID,
            violations=tuple(
                FieldViolation(
                    f"rules.{self.definition.rules[i].name}", _message(self.definition.rules[i])
                )
                for i in core
            ),
        )

    def _rule_positions(self, literal_indices: Iterable[int]) -> list[int]:
        by_index = {literal.index: i for i, literal in enumerate(self._rule_literals)}
        return sorted(by_index[index] for index in literal_indices if index in by_index)

    def _ranges(
        self, option: NumberOption, supported: list[bool]
    ) -> tuple[tuple[float, float], ...]:
        ranges: list[tuple[int, int]] = []
        for segment, feasible in zip(self._segments[option.name], supported, strict=True):
            if not feasible:
                continue
            if ranges and ranges[-1][1] + 1 == segment.first:
                ranges[-1] = (ranges[-1][0], segment.last)
            else:
                ranges.append((segment.first, segment.last))
        return tuple((option.value_at(first), option.value_at(last)) for first, last in ranges)

    # The model ---------------------------------------------------------------------------

    def _literal(self, condition: Condition) -> Literal:
        """A literal equivalent to the condition."""
        cached = self._condition_literals.get(condition)
        if cached is not None:
            return cached
        model = self._model
        literal: Literal
        match condition:
            case ValueIn(name, _) | InRange(name, _, _):
                literal = self._one_of(name, self._atom_positions(condition))
            case AllOf(children):
                parts = [self._literal(child) for child in children]
                literal = model.new_bool_var("all")
                model.add_bool_and(parts).only_enforce_if(literal)
                model.add_bool_or([~part for part in parts]).only_enforce_if(~literal)
            case AnyOf(children):
                parts = [self._literal(child) for child in children]
                literal = model.new_bool_var("any")
                model.add_bool_or(parts).only_enforce_if(literal)
                model.add_bool_and([~part for part in parts]).only_enforce_if(~literal)
            case Not(child):
                literal = ~self._literal(child)
        self._condition_literals[condition] = literal
        return literal

    def _atom_positions(self, condition: ValueIn | InRange) -> list[int]:
        """The literal positions of the condition's option where it holds."""
        if isinstance(condition, InRange):
            option = self._options[condition.option]
            assert isinstance(option, NumberOption)
            return [
                position
                for position, segment in enumerate(self._segments[condition.option])
                if in_bounds(option, option.value_at(segment.first), condition.min, condition.max)
            ]
        name, values = condition.option, condition.values
        option = self._options[name]
        if isinstance(option, ChoiceOption):
            return sorted(
                {index for value in values if (index := option.index_of(value)) is not None}
            )
        indices = {option.index_of(float(value)) for value in values}
        return [
            position
            for position, segment in enumerate(self._segments[name])
            if segment.first in indices and segment.first == segment.last
        ]

    def _one_of(self, name: str, positions: list[int]) -> Literal:
        """A literal that holds when the option takes one of the positions."""
        literals = self._literals[name]
        if not positions:
            return ~self._true
        if len(positions) == len(literals):
            return self._true
        if len(positions) == 1:
            return literals[positions[0]]
        # Clauses rather than a linear equality: the model stays pure SAT, which CP-SAT
        # solves without its linear relaxation.
        literal = self._model.new_bool_var(f"{name}:in")
        chosen = [literals[position] for position in positions]
        self._model.add_bool_or(chosen).only_enforce_if(literal)
        for part in chosen:
            self._model.add_implication(part, literal)
        return literal

    def _add_rule(self, rule: Rule, enforced: cp_model.IntVar) -> None:
        model = self._model
        match rule:
            case RequiresRule(condition=condition, then=then):
                model.add_bool_or([self._literal(then)]).only_enforce_if(
                    [enforced, self._literal(condition)]
                )
            case ExcludesRule(conditions=conditions):
                model.add_bool_or([~self._literal(c) for c in conditions]).only_enforce_if(enforced)
            case RangeRule(condition=condition, option=name, min=low, max=high):
                when = [enforced] + ([self._literal(condition)] if condition else [])
                model.add_bool_or([self._literal(InRange(name, low, high))]).only_enforce_if(when)
            case TableRule(options=names, rows=rows):
                row_literals: list[Literal] = []
                for row in rows:
                    cells = [
                        self._literal(ValueIn(name, (value,)))
                        for name, value in zip(names, row, strict=True)
                    ]
                    if len(cells) == 1:
                        row_literals.append(cells[0])
                    else:
                        row_literal = model.new_bool_var("row")
                        model.add_bool_and(cells).only_enforce_if(row_literal)
                        row_literals.append(row_literal)
                model.add_bool_or(row_literals).only_enforce_if(enforced)

    def _number_price_per_step(self, option: NumberOption) -> float:
        """How much one step up adds to the price (its own price and the price formula)."""
        per_unit = option.price_per_unit
        formula = (
            self.definition.formula(self.definition.price_formula)
            if self.definition.price_formula
            else None
        )
        if formula is not None:
            per_unit += sum(
                term.coefficient
                for term in formula.terms
                if isinstance(term, OptionTerm) and term.option == option.name
            )
        return per_unit * option.step

    def _price_objective(self) -> list[tuple[Literal, int]]:
        """The unit price minus constants, in hundredths of a cent, as literal weights."""
        position_prices: dict[str, list[int]] = {}
        for name, option in self._options.items():
            if isinstance(option, ChoiceOption):
                prices = [round(choice.price * PRICE_SCALE) for choice in option.values]
            else:
                per_step = self._number_price_per_step(option)
                prices = [
                    round(
                        per_step * (segment.last if per_step < 0 else segment.first) * PRICE_SCALE
                    )
                    for segment in self._segments[name]
                ]
            position_prices[name] = prices
        formula = (
            self.definition.formula(self.definition.price_formula)
            if self.definition.price_formula
            else None
        )
        conditions = [
            (term.condition, round(term.add * PRICE_SCALE))
            for term in (formula.terms if formula is not None else ())
            if isinstance(term, ConditionTerm) and round(term.add * PRICE_SCALE)
        ]
        terms: list[tuple[Literal, int]] = [
            (literal, weight)
            for name, prices in position_prices.items()
            for literal, weight in zip(self._literals[name], prices, strict=True)
            if weight
        ]
        terms += [(self._literal(condition), weight) for condition, weight in conditions]
        return terms


def _dimacs(reference: int) -> int:
    """A CP-SAT literal reference (variable index, or -index - 1 for its negation) in
    DIMACS numbering (variables from 1, negation by sign)."""
    return reference + 1 if reference >= 0 else reference


def _clauses(model: cp_model.CpModel) -> list[list[int]]:
    """The model's constraints as CNF (it holds only Boolean constraints)."""
    clauses: list[list[int]] = []
    proto = model.proto
    top = len(proto.variables)
    for constraint in proto.constraints:
        unless = [-_dimacs(reference) for reference in constraint.enforcement_literal]
        if constraint.has_bool_or():
            clauses.append([*unless, *(_dimacs(r) for r in constraint.bool_or.literals)])
        elif constraint.has_bool_and():
            clauses.extend([*unless, _dimacs(r)] for r in constraint.bool_and.literals)
        elif constraint.has_exactly_one() and not unless:
            literals = [_dimacs(r) for r in constraint.exactly_one.literals]
            clauses.append(literals)
            at_most_one = CardEnc.atmost(literals, 1, top_id=top, encoding=EncType.seqcounter)
            top = max(top, at_most_one.nv)
            clauses.extend(at_most_one.clauses)
        else:
            raise AssertionError(f"the configurator model holds another constraint: {constraint}")
    return clauses


def _value(solution: Sequence[int], literal: Literal) -> int:
    index = literal.index  # type: ignore[union-attr]
    return solution[index] if index >= 0 else 1 - solution[-index - 1]


def _segments(option: NumberOption, definition: FamilyDefinition) -> list[_Segment]:
    """The option's grid cut where any rule or the price formula can change its mind."""
    last = option.last_index
    cuts = {0, last + 1}

    def cut_range(low: float | None, high: float | None) -> None:
        if low is not None:
            cuts.add(min(max(option.first_index_from(low), 0), last + 1))
        if high is not None:
            cuts.add(min(max(option.last_index_to(high) + 1, 0), last + 1))

    def cut_value(value: OptionValue) -> None:
        index = option.index_of(float(value))
        if index is not None:
            cuts.update((index, index + 1))

    def visit(condition: Condition) -> None:
        match condition:
            case ValueIn(name, values) if name == option.name:
                for value in values:
                    cut_value(value)
            case InRange(name, low, high) if name == option.name:
                cut_range(low, high)
            case AllOf(children) | AnyOf(children):
                for child in children:
                    visit(child)
            case Not(child):
                visit(child)

    for rule in definition.rules:
        match rule:
            case RequiresRule(condition=condition, then=then):
                visit(condition)
                visit(then)
            case ExcludesRule(conditions=conditions):
                for condition in conditions:
                    visit(condition)
            case RangeRule(condition=condition, option=name, min=low, max=high):
                if condition is not None:
                    visit(condition)
                if name == option.name:
                    cut_range(low, high)
            case TableRule(options=names, rows=rows):
                if option.name in names:
                    column = names.index(option.name)
                    for row in rows:
                        cut_value(row[column])
    if definition.price_formula:
        formula = definition.formula(definition.price_formula)
        assert formula is not None
        for term in formula.terms:
            if isinstance(term, ConditionTerm):
                visit(term.condition)
    ordered = sorted(cuts)
    return [
        _Segment(first, following - 1)
        for first, following in itertools.pairwise(ordered)
        if first < following
    ]


def _number_violation(option: NumberOption, value: object) -> str:
    if not is_number(value):
        return "must be a number"
    number = float(value)  # type: ignore[arg-type]
    if not option.min <= number <= option.max:
        return f"{value!r} is outside {option.min:g} to {option.max:g}"
    if option.index_of(number) is None:
        return f"{value!r} is not on the step {option.step:g} from {option.min:g}"
    return ""


def _text_violation(option: TextOption, value: object) -> str:
    if not isinstance(value, str):
        return "must be a string"
    if len(value) > option.max_length:
        return f"must be at most {option.max_length} characters long"
    if option.pattern is not None and re.fullmatch(option.pattern, value) is None:
        return f"must match {option.pattern}"
    return ""


def _message(rule: Rule) -> str:
    if rule.message:
        return rule.message
    match rule:
        case RequiresRule(condition=condition, then=then):
            return f"when {describe(condition)}, {describe(then)} is required"
        case ExcludesRule(conditions=conditions):
            return " and ".join(describe(c) for c in conditions) + " cannot go together"
        case RangeRule(condition=condition, option=name, min=low, max=high):
            bounds = describe(InRange(name, low, high)).removeprefix(f"{name} is ")
            prefix = f"when {describe(condition)}, " if condition else ""
            return f"{prefix}{name} must be {bounds}"
        case TableRule(options=names):
            return f"{', '.join(names)} must be one of the combinations of the table"
    raise AssertionError(rule)
