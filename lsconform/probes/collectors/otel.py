"""OpenTelemetry Collector configurations: the `filelog` receivers that logs pipelines use.

A receiver only runs when a pipeline names it, so a `filelog` receiver that no `logs` pipeline
lists reads nothing. Configuration values may reference environment variables as `${env:NAME}`
or the older `${NAME}`. A variable that is not set expands to an empty string, as the collector's
confmap does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from lsconform.probes.collectors.globs import BadPattern, doublestar_match, filelog_includes
from lsconform.probes.collectors.model import (
    ContainerLogTarget,
    Family,
    Outcome,
    Reader,
    Verdict,
    check_access,
    field_value,
    no_mount_problem,
    parser_problem,
    regex_accepts,
)
from lsconform.probes.logfiles import LineFormat

_ENV_REFERENCE = re.compile(r"\$\{(?:env:)?([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass
class FilelogReceiver:
    """One `filelog` receiver of a collector configuration, as its pipelines use it."""

    name: str
    include: list[str]
    exclude: list[str]
    start_at: str = "end"
    operators: list[dict[str, Any]] = field(default_factory=list)
    pipelines: list[str] = field(default_factory=list)


def parse_config(text_or_mapping: str | Mapping[str, Any]) -> dict[str, Any]:
    """Parse a collector configuration given as YAML text or as an already decoded mapping.

    Raises ValueError with the YAML error when the text does not parse to a mapping.
    """
    if isinstance(text_or_mapping, Mapping):
        return dict(text_or_mapping)
    try:
        data = yaml.safe_load(text_or_mapping)
    except yaml.YAMLError as error:
        raise ValueError(f"collector configuration is not valid YAML: {error}") from error
    if not isinstance(data, dict):
        raise ValueError("collector configuration is not a YAML mapping")
    return data


def looks_like_config(data: Mapping[str, Any]) -> bool:
    """Say whether a mapping is a collector configuration (receivers and a service section)."""
    return isinstance(data.get("receivers"), dict) and isinstance(data.get("service"), dict)


def filelog_receivers(config: Mapping[str, Any]) -> tuple[list[FilelogReceiver], list[str]]:
    """Return the filelog receivers of a configuration, and problems found on the way.

    A problem is a pipeline that names an undeclared receiver, or a filelog receiver that no logs
    pipeline uses.
    """
    problems: list[str] = []
    receivers = config.get("receivers") or {}
    pipelines = ((config.get("service") or {}).get("pipelines")) or {}
    used: dict[str, list[str]] = {}
    for pipeline_name, pipeline in pipelines.items():
        if not isinstance(pipeline, dict):
            continue
        for receiver_name in pipeline.get("receivers") or []:
            if receiver_name not in receivers:
                problems.append(
                    f"pipeline {pipeline_name} references receiver {receiver_name!r}, which is "
                    f"not declared (declared: {sorted(receivers)}); the collector will not start"
                )
                continue
            if str(pipeline_name).split("/")[0] == "logs":
                used.setdefault(str(receiver_name), []).append(str(pipeline_name))
    found = []
    for name, settings in receivers.items():
        if str(name).split("/")[0] != "filelog":
            continue
        settings = settings if isinstance(settings, dict) else {}
        if name not in used:
            problems.append(f"receiver {name} is declared but no logs pipeline uses it")
            continue
        found.append(
            FilelogReceiver(
                name=str(name),
                include=[str(p) for p in settings.get("include") or []],
                exclude=[str(p) for p in settings.get("exclude") or []],
                start_at=str(settings.get("start_at", "end")),
                operators=[op for op in settings.get("operators") or [] if isinstance(op, dict)],
                pipelines=used[str(name)],
            )
        )
    return found, problems


def startup_problems(config: Mapping[str, Any]) -> list[str]:
    """Return what makes the collector reject its configuration and not start.

    Every receiver, processor and exporter a pipeline names must be declared, and a pipeline
    needs at least one receiver and one exporter.
    """
    problems: list[str] = []
    pipelines = ((config.get("service") or {}).get("pipelines")) or {}
    for pipeline_name, pipeline in pipelines.items():
        if not isinstance(pipeline, dict) or not pipeline:
            problems.append(f"pipeline {pipeline_name} is empty")
            continue
        for section in ("receivers", "processors", "exporters"):
            declared = config.get(section) or {}
            for component in pipeline.get(section) or []:
                if component not in declared:
                    problems.append(
                        f"pipeline {pipeline_name} references {section[:-1]} {component!r}, "
                        f"which is not declared (declared: {sorted(declared)})"
                    )
        for section in ("receivers", "exporters"):
            if not pipeline.get(section):
                problems.append(f"pipeline {pipeline_name} has no {section}")
    return problems


def accepted_formats(operators: list[dict[str, Any]]) -> tuple[list[LineFormat], str]:
    """Return the line formats the first parsing operator accepts, and a description of it.

    An empty list means every format is accepted (the `container` parser detects the format,
    and a `router` chooses a parser per line).
    """
    for operator in operators:
        kind = str(operator.get("type", ""))
        if kind == "container":
            forced = str(operator.get("format", "")).lower()
            if forced == "docker":
                return [LineFormat.DOCKER_JSON], "container parser with format docker"
            if forced in ("crio", "containerd"):
                return [LineFormat.CRI], f"container parser with format {forced}"
            return [], "container parser (detects the format)"
        if kind == "router":
            return [], "router operator (chooses a parser per line)"
        if kind == "json_parser":
            return [LineFormat.DOCKER_JSON], "json_parser (Docker JSON lines only)"
        if kind == "regex_parser":
            pattern = str(operator.get("regex", ""))
            formats = (LineFormat.CRI, LineFormat.DOCKER_JSON)
            accepted: list[LineFormat] = [fmt for fmt in formats if regex_accepts(pattern, fmt)]
            return accepted or [LineFormat.UNKNOWN], f"regex_parser {pattern!r}"
    return [LineFormat.UNKNOWN], "no parsing operator (records keep the runtime's line prefix)"


def expand_env(
    value: str, reader: Reader, target: ContainerLogTarget, *, sidecar: bool
) -> tuple[str, list[str]]:
    """Expand `${env:NAME}` and `${NAME}` with the collector's environment for this target.

    Downward-API variables resolve to the target pod's fields in sidecar mode, and to the
    target's node for `spec.nodeName` in every mode. Returns the value and the unresolved names.
    """
    unresolved: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in reader.env:
            return reader.env[name]
        field_path = reader.field_env.get(name)
        if field_path and (sidecar or field_path == "spec.nodeName"):
            resolved = field_value(target, field_path)
            if resolved is not None:
                return resolved
        if default is not None:
            return default
        unresolved.append(name)
        return ""

    return _ENV_REFERENCE.sub(substitute, value), unresolved


@dataclass
class OtelCollector:
    """An OpenTelemetry Collector with at least one filelog receiver in a logs pipeline.

    `mode` is the OpenTelemetryCollector mode (daemonset, deployment, statefulset, sidecar) or
    the kind of the workload the configuration was found in.
    """

    name: str
    reader: Reader
    receivers: list[FilelogReceiver]
    mode: str = "daemonset"
    problems: list[str] = field(default_factory=list)
    family: Family = Family.OTEL
    fatal: list[str] = field(default_factory=list)
    """Configuration problems that stop the collector from starting (see startup_problems)."""

    def evaluate(self, target: ContainerLogTarget) -> Verdict:
        """Say whether a filelog receiver of this collector reads the target's log file."""
        if self.mode == "sidecar":
            injected = self._sidecar_injected(target)
            if injected is not None:
                return self._verdict(Outcome.NOT_SELECTED, injected)
        if not self.receivers:
            reason = "; ".join(self.problems) or "no filelog receiver in any logs pipeline"
            return self._verdict(Outcome.NOT_SELECTED, reason)
        verdicts = [self._evaluate_receiver(receiver, target) for receiver in self.receivers]
        best = _best(verdicts)
        if best.outcome is Outcome.READS and self.fatal:
            best.outcome = Outcome.BROKEN
            best.reason = (
                f"{best.reason}, but the collector rejects its configuration and does not "
                f"start: {self.fatal[0]}"
            )
            best.remedy = (
                "declare every component a pipeline names, and give each pipeline a receiver "
                "and an exporter"
            )
        return best

    def _sidecar_injected(self, target: ContainerLogTarget) -> str | None:
        """Return why the sidecar is not injected into the target pod, or None if it is."""
        value = target.pod_annotations.get("sidecar.opentelemetry.io/inject", "")
        short_name = self.name.rsplit("/", 1)[-1]
        accepted = {"true", short_name, f"{self.reader.namespace}/{short_name}"}
        if value in accepted:
            return None
        return (
            f"sidecar mode injects the collector only into pods annotated "
            f"sidecar.opentelemetry.io/inject; pod {target.pod} has "
            f"{value or 'no such annotation'}"
        )

    def _evaluate_receiver(self, receiver: FilelogReceiver, target: ContainerLogTarget) -> Verdict:
        sidecar = self.mode == "sidecar"
        includes, excludes, unresolved = self._expanded(receiver, target, sidecar)
        notes = []
        if unresolved:
            notes.append(f"unset variables expand to empty strings: {sorted(set(unresolved))}")
        if receiver.start_at == "end":
            notes.append("start_at: end, so lines written before the collector started are skipped")
        try:
            selection = self._select(includes, excludes, target)
        except BadPattern as error:
            return self._verdict(
                Outcome.BROKEN,
                f"receiver {receiver.name} has an invalid pattern ({error}); the collector "
                f"rejects its configuration",
                remedy="fix the include/exclude patterns (doublestar syntax)",
            )
        outcome, reason, path, via_link, remedy = selection
        if outcome is not Outcome.READS:
            verdict = self._verdict(outcome, f"receiver {receiver.name}: {reason}", remedy=remedy)
            verdict.notes = notes
            return verdict
        node_path = target.link_path if via_link else target.pod_path
        problem = check_access(self.reader, target, node_path, via_link=via_link)
        if problem is None:
            formats, parser = accepted_formats(receiver.operators)
            problem = parser_problem(formats, parser, target)
        if problem is not None:
            verdict = self._verdict(
                problem[0], f"receiver {receiver.name}: {problem[1]}", path, problem[2]
            )
        else:
            verdict = self._verdict(Outcome.READS, f"receiver {receiver.name} reads {path}", path)
        verdict.notes = notes
        return verdict

    def _expanded(
        self, receiver: FilelogReceiver, target: ContainerLogTarget, sidecar: bool
    ) -> tuple[list[str], list[str], list[str]]:
        unresolved: list[str] = []
        includes, excludes = [], []
        for pattern in receiver.include:
            value, missing = expand_env(pattern, self.reader, target, sidecar=sidecar)
            includes.append(value)
            unresolved += missing
        for pattern in receiver.exclude:
            value, missing = expand_env(pattern, self.reader, target, sidecar=sidecar)
            excludes.append(value)
            unresolved += missing
        return includes, excludes, unresolved

    def _select(
        self, includes: list[str], excludes: list[str], target: ContainerLogTarget
    ) -> tuple[Outcome, str, str, bool, str]:
        """Decide which of the target's two paths the patterns take, inside the collector."""
        for node_path, via_link in ((target.pod_path, False), (target.link_path, True)):
            inside = self.reader.container_path(node_path)
            if inside is not None and any(filelog_includes(p, inside) for p in includes):
                excluded_by = [p for p in excludes if doublestar_match(p, inside)]
                if excluded_by:
                    return (
                        Outcome.NOT_SELECTED,
                        f"{inside} matches include but is excluded by {excluded_by[0]!r}",
                        inside,
                        via_link,
                        f"remove or narrow the exclude pattern {excluded_by[0]!r}",
                    )
                return Outcome.READS, "", inside, via_link, ""
        for node_path in (target.pod_path, target.link_path):
            if self.reader.container_path(node_path) != node_path and any(
                filelog_includes(p, node_path) for p in includes
            ):
                reason, remedy = no_mount_problem(self.reader, target, node_path)
                return Outcome.BROKEN, reason, node_path, False, remedy
        shown = ", ".join(repr(p) for p in includes) or "none"
        return (
            Outcome.NOT_SELECTED,
            f"include patterns {shown} match neither {target.pod_path} nor {target.link_path}",
            "",
            False,
            f"include {target.pod_path.rsplit('/', 3)[0]}/*/*/*.log "
            "(the kubelet's layout: <namespace>_<pod>_<uid>/<container>/<restart>.log)",
        )

    def _verdict(self, outcome: Outcome, reason: str, path: str = "", remedy: str = "") -> Verdict:
        return Verdict(self.name, self.family, outcome, reason, path, remedy)


_RANK = {Outcome.READS: 0, Outcome.BROKEN: 1, Outcome.DOUBTFUL: 2, Outcome.NOT_SELECTED: 3}


def _best(verdicts: list[Verdict]) -> Verdict:
    """Pick the verdict that matters most: a receiver that reads, else the most telling problem."""
    return min(verdicts, key=lambda verdict: _RANK[verdict.outcome])


def collector_config_from_cr(resource: Mapping[str, Any]) -> dict[str, Any]:
    """Return the configuration of an OpenTelemetryCollector resource (v1beta1 or v1alpha1).

    v1beta1 keeps `spec.config` as a mapping, v1alpha1 as a YAML string.
    """
    config = (resource.get("spec") or {}).get("config") or {}
    return parse_config(config)
