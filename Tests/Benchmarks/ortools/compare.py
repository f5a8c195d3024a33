#!/usr/bin/env python3
"""Compares the itinerary planner's tours with an exact CP-SAT model of the same tour problem.

Not part of the product: a benchmark for the issue "compare the score with an exact solver on
the small instances and record the gap". See README.md next to this file.

For each instance it
  1. runs our planner through the CLI (`itineraries plan`, then `itineraries score --json`) and
     takes `score.visitValue`;
  2. rebuilds the tour part of the problem in Python, mirroring the Swift rules
     (Services/Itineraries/Planner: EventModel.swift, Planner.swift, PlanningInput.swift,
     PlanChecker.swift), and maximises the same visit value with OR-Tools CP-SAT;
  3. replays our plan inside the model (every variable fixed to the plan) to check that the
     model accepts it and values it exactly as PlanChecker does;
  4. prints a table and optionally writes JSON.

    python3 compare.py                                   # seed scenario + synthetic 6, 10, 16
    python3 compare.py --programme P.json --registrations R.json
    python3 compare.py --synthetic 8 --synthetic 12 --seed 7
    python3 compare.py --bin /work/main/.build-ortools/debug --time-limit 60 --json-out out.json

Two timing models (`--timing`, default both):
  greedy    every route's stop times are the planner's earliest times from the gap start
            (arrive = max(window start, previous departure + travel)); the route is the unit.
  flexible  the same routes, but each stop's arrival is a variable (>= the earliest time, the
            visit must end inside the window and the gap). The planner can delay a stop until
            another bus has left a venue, so only this model contains every plan the planner
            can make; it is the exact bound for the planner's rules.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent.parent
SAMPLE = REPO / "deploy" / "sample-data"
CONTRACTS = REPO / "docs" / "contracts"

# ---------------------------------------------------------------------------------------------
# Reading the contract payloads (as Shared/Messages decodes them)
# ---------------------------------------------------------------------------------------------


def parse_time(text: str) -> float:
    """An ISO-8601 date-time with a zone, as seconds since the epoch."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"'{text}' has no time zone")
    return value.timestamp()


@dataclass
class Venue:
    id: str
    latitude: float
    longitude: float
    windows: list  # [(start, end)] epoch seconds
    visit_minutes: int
    capacity: int
    topics: list  # kept as a list: Preference.weight counts duplicates
    access: tuple | None  # (set of document kinds, deadline) or None
    site: bool


@dataclass
class Delegation:
    id: str
    role: str
    size: int
    interests: set
    preferred: list
    kinds: list  # document kind per delegate, None when missing
    given_at: float

    def may_enter(self, venue: Venue) -> bool:
        """PlanningDelegation.mayEnter."""
        if venue.access is None:
            return True
        documents, deadline = venue.access
        return self.given_at <= deadline and all(kind is not None and kind in documents for kind in self.kinds)


def weight(delegation: Delegation, venue: Venue) -> int:
    """Preference.weight: 10 - min(rank, 5) if preferred, plus 2 per venue topic it shares."""
    value = 0
    if venue.id in delegation.preferred:
        value += 10 - min(delegation.preferred.index(venue.id), 5)
    return value + 2 * sum(1 for topic in venue.topics if topic in delegation.interests)


def read_programme(payload: dict) -> dict:
    venues = []
    for v in payload["venues"]:
        access = v.get("restrictedAccess")
        venues.append(
            Venue(
                id=v["id"],
                latitude=float(v["coordinates"]["latitude"]),
                longitude=float(v["coordinates"]["longitude"]),
                windows=[(parse_time(w["start"]), parse_time(w["end"])) for w in v["openingWindows"]],
                visit_minutes=int(v["visitMinutes"]),
                capacity=int(v["capacityPerVisit"]),
                topics=list(v.get("topics") or []),
                access=(set(access["documents"]), parse_time(access["deadline"])) if access else None,
                site=bool(v.get("isSiteVisit", True)),
            )
        )
    travel = payload.get("travel") or {}
    return {
        "eventID": payload["eventID"],
        "timeZone": payload["timeZone"],
        "days": list(payload["days"]),
        "publishedAt": parse_time(payload["publishedAt"]),
        "venues": venues,
        "buses": [(b["id"], int(b["seats"])) for b in payload["buses"]],
        "sessions": [(parse_time(s["start"]), parse_time(s["end"]), s["venueID"]) for s in payload["sessions"]],
        "slots": [(parse_time(s["start"]), parse_time(s["end"]), s["venueID"]) for s in payload["meetingSlots"]],
        "matrix": [(t["from"], t["to"], int(t["minutes"])) for t in travel.get("matrix") or []],
        "roadSpeedKmh": float(travel.get("roadSpeedKmh", 30)),
        "detourFactor": float(travel.get("detourFactor", 1.4)),
    }


def delegation_of(delegation: dict, registration_id: str, given_at: float) -> Delegation:
    """PlanningDelegation.init(_ accepted:)."""
    interests = delegation.get("interests") or {}
    organisation = delegation["organisation"]
    tags = set(interests.get("sectors") or []) | set(interests.get("topics") or []) | set(organisation.get("sectors") or [])
    delegates = delegation["delegates"]
    return Delegation(
        id=registration_id,
        role=delegation["role"],
        size=len(delegates),
        interests=tags,
        preferred=list(delegation.get("preferredVisits") or []),
        kinds=[(d.get("identityDocument") or {}).get("kind") for d in delegates],
        given_at=given_at,
    )


def read_registrations(payloads: list, programme: dict) -> list:
    """InputFiles.load: registration.accepted payloads if they all are, else registration.submitted."""
    accepted_keys = {"registrationID", "eventID", "reference", "revision", "delegation", "acceptedAt"}
    delegations = []
    if all(isinstance(p, dict) and accepted_keys <= p.keys() for p in payloads):
        for p in payloads:
            if p["eventID"] != programme["eventID"]:
                continue
            given = parse_time(p["submittedAt"]) if p.get("submittedAt") else parse_time(p["acceptedAt"])
            delegations.append(delegation_of(p["delegation"], p["registrationID"], given))
    else:
        for p in payloads:
            if p["eventID"] != programme["eventID"]:
                continue
            given = parse_time(p["submittedAt"]) if p.get("submittedAt") else programme["publishedAt"]
            delegations.append(delegation_of(p, p["reference"], given))
    delegations.sort(key=lambda d: d.id)  # PlanningInput sorts by id
    return delegations


# ---------------------------------------------------------------------------------------------
# EventModel (days, touring gaps, depots, open venues, travel minutes)
# ---------------------------------------------------------------------------------------------


@dataclass
class Day:
    date: str
    start: float  # touringStart
    end: float  # touringEnd
    depot: str | None
    open: list = field(default_factory=list)  # [(venue id, (window start, window end))], by id
    next: tuple | None = None  # (venue id, start) of the fixed part after the gap: tours return there


class EventModel:
    def __init__(self, programme: dict):
        self.programme = programme
        self.venues: dict[str, Venue] = {}
        for venue in programme["venues"]:
            self.venues.setdefault(venue.id, venue)
        self.matrix: dict[tuple, int] = {}
        for source, target, minutes in programme["matrix"]:
            self.matrix[(source, target)] = minutes
            self.matrix.setdefault((target, source), minutes)
        try:
            from zoneinfo import ZoneInfo

            zone = ZoneInfo(programme["timeZone"])
        except Exception:
            zone = timezone.utc
        self.days: list[Day] = []
        seen = set()
        for date in sorted(programme["days"]):
            day = self._day(date, zone)
            if day is None:
                continue
            if day.date in seen:
                print(f"warning: day {date} is listed twice; the comparison uses it once", file=sys.stderr)
                continue
            seen.add(day.date)
            self.days.append(day)

    def _day(self, date: str, zone) -> Day | None:
        programme = self.programme
        parts = [int(p) for p in date.split("-") if re.fullmatch(r"[+-]?\d+", p)]
        if len(parts) != 3:
            return None
        try:
            day_start = datetime(parts[0], parts[1], parts[2], tzinfo=zone)
        except ValueError:
            return None
        day_end = (datetime(parts[0], parts[1], parts[2]) + timedelta(days=1)).replace(tzinfo=zone).timestamp()
        day_start = day_start.timestamp()
        sites = sorted((v for v in programme["venues"] if v.site), key=lambda v: v.id)
        windows = []
        for venue in sites:
            for ws, we in venue.windows:
                s, e = max(ws, day_start), min(we, day_end)
                if s < e:
                    windows.append((s, e))
        if not windows:
            return Day(date, day_start, day_start, None, [])
        earliest = min(w[0] for w in windows)
        latest = max(w[1] for w in windows)
        busy = [b for b in programme["sessions"] + programme["slots"] if b[1] > day_start and b[0] < day_end]
        busy.sort(key=lambda b: b[0])  # stable, like Swift's sort
        gaps = []
        cursor, last_venue = earliest, None
        for start, end, venue in busy:
            if start > cursor:
                gaps.append((cursor, min(start, latest), last_venue, (venue, start)))
            if end > cursor:
                cursor, last_venue = end, venue
        if cursor < latest:
            gaps.append((cursor, latest, last_venue, None))
        gaps = [g for g in gaps if g[1] > g[0]]
        if not gaps:
            return Day(date, day_start, day_start, None, [])
        # Longest; on equal length the earliest.
        gap = gaps[0]
        for g in gaps[1:]:
            if (gap[1] - gap[0], -gap[0]) < (g[1] - g[0], -g[0]):
                gap = g
        depot = gap[2]
        if depot is None:
            depot = next((v.id for v in programme["venues"] if not v.site), None)
        open_venues = []
        for venue in sites:
            best = None
            for ws, we in venue.windows:
                s, e = max(ws, gap[0]), min(we, gap[1])
                if e - s >= venue.visit_minutes * 60 and (best is None or best[1] - best[0] < e - s):
                    best = (s, e)
            if best is not None:
                open_venues.append((venue.id, best))
        return Day(date, gap[0], gap[1], depot, open_venues, gap[3])

    def travel_minutes(self, source: str | None, target: str) -> int:
        if source is None or source == target:
            return 0
        if (source, target) in self.matrix:
            return self.matrix[(source, target)]
        a, b = self.venues.get(source), self.venues.get(target)
        if a is None or b is None:
            return 0
        km = haversine_km(a, b) * self.programme["detourFactor"]
        return int(math.ceil(km / max(1.0, self.programme["roadSpeedKmh"]) * 60))


def haversine_km(a: Venue, b: Venue) -> float:
    lat1, lat2 = a.latitude * math.pi / 180, b.latitude * math.pi / 180
    d_lat, d_lon = lat2 - lat1, (b.longitude - a.longitude) * math.pi / 180
    h = math.sin(d_lat / 2) * math.sin(d_lat / 2) + math.cos(lat1) * math.cos(lat2) * math.sin(d_lon / 2) * math.sin(d_lon / 2)
    return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(h)))


# ---------------------------------------------------------------------------------------------
# The CP-SAT model
# ---------------------------------------------------------------------------------------------


def seconds(value: float) -> int:
    whole = round(value)
    if abs(whole - value) > 1e-6:
        raise ValueError("times with fractions of a second are not supported")
    return int(whole)


def returns_in_time(model: EventModel, day: Day, venue: str, departure: float) -> bool:
    """A tour's last visit must leave time to reach the fixed part of the day after the gap."""
    return day.next is None or departure + model.travel_minutes(venue, day.next[0]) * 60 <= day.next[1]


def enumerate_routes(model: EventModel, day: Day, max_stops: int) -> list:
    """Every ordered route of 1..max_stops distinct open venues whose earliest timing fits:
    arrive = max(window start, previous departure + travel), leave = arrive + visitMinutes,
    leave <= window end and <= the gap's end. Times in seconds from the gap's start."""
    routes = []

    def extend(stops, cursor, position):
        for vid, (ws, we) in day.open:
            if any(s[0] == vid for s in stops):
                continue
            venue = model.venues[vid]
            arrival = max(ws, cursor + model.travel_minutes(position, vid) * 60)
            departure = arrival + venue.visit_minutes * 60
            if departure <= we and departure <= day.end:
                route = stops + [(vid, seconds(arrival - day.start), seconds(departure - day.start))]
                if returns_in_time(model, day, vid, departure):
                    routes.append(tuple(route))
                if len(route) < max_stops:
                    extend(route, departure, vid)

    extend([], day.start, day.depot)
    return routes


class TourModel:
    """The tour problem as CP-SAT sees it.

    x[bus,day,route]       the bus runs that route that day (at most one route per bus and day)
    q[deleg,bus,day,route] the delegation rides it; y[deleg,bus,day] = sum over routes of q
                           (at most one bus per delegation and day). Splitting y by route lets
                           seats, capacity and documents be stated per route, which gives a far
                           tighter LP relaxation than "load <= capacity if the bus stops there".
    z[deleg,venue]         the delegation gains the venue's weight (once over all days and buses)
    a[bus,day,venue]       arrival (flexible timing), or fixed per route (greedy timing); every
                           (bus, day, venue) visit is an optional interval, NoOverlap per venue
                           and day (one group at a time).
    Objective: sum of weight(deleg, venue) * z, which is PlanChecker.Score.visitValue.
    """

    def __init__(self, inst: "Instance", timing: str, max_stops: int):
        from ortools.sat.python import cp_model

        self.cp_model = cp_model
        self.inst = inst
        self.timing = timing
        ev = inst.event
        m = self.m = cp_model.CpModel()
        self.buses = sorted(inst.programme["buses"], key=lambda b: b[0])
        self.visitors = inst.visitors
        self.routes = [enumerate_routes(ev, day, max_stops) for day in ev.days]
        self.route_index = [{tuple(s[0] for s in r): i for i, r in enumerate(rs)} for rs in self.routes]
        self.x, self.s, self.q, self.a, self.z = {}, {}, {}, {}, {}
        rides: dict[tuple, list] = {}  # (deleg, day) -> q vars
        gains: dict[tuple, list] = {}  # (deleg, venue) -> q vars of routes that stop there
        intervals: dict[tuple, list] = {}
        for bus, seats in self.buses:
            for t, day in enumerate(ev.days):
                routes = self.routes[t]
                if not routes:
                    continue
                xs = []
                for ri, route in enumerate(routes):
                    var = m.new_bool_var(f"x[{bus},{day.date},{'>'.join(s[0] for s in route)}]")
                    self.x[bus, t, ri] = var
                    xs.append(var)
                m.add(sum(xs) <= 1)
                venue_ids = sorted({s[0] for r in routes for s in r})
                for vid in venue_ids:
                    sv = m.new_bool_var(f"s[{bus},{day.date},{vid}]")
                    m.add(sv == sum(self.x[bus, t, ri] for ri, r in enumerate(routes) if any(s[0] == vid for s in r)))
                    self.s[bus, t, vid] = sv
                for ri, route in enumerate(routes):
                    stops = [ev.venues[s[0]] for s in route]
                    # The whole group fits in the bus and in every stop's visit group.
                    limit = min([seats] + [v.capacity for v in stops])
                    riders = []
                    for d in self.visitors:
                        # Every rider may enter every stop (documents, restricted sites).
                        if d.size > limit or not all(d.may_enter(v) for v in stops):
                            continue
                        qv = m.new_bool_var(f"q[{d.id},{bus},{day.date},{ri}]")
                        self.q[d.id, bus, t, ri] = qv
                        riders.append((d, qv))
                        rides.setdefault((d.id, t), []).append(qv)
                        for v in stops:
                            gains.setdefault((d.id, v.id), []).append(qv)
                    if riders:
                        m.add(sum(d.size * qv for d, qv in riders) <= limit * self.x[bus, t, ri])
                # Stop times and the intervals the venue is taken.
                if timing == "flexible":
                    windows = dict(day.open)
                    for vid in venue_ids:
                        venue = ev.venues[vid]
                        ws, we = windows[vid]
                        duration = venue.visit_minutes * 60
                        lo, hi = seconds(ws - day.start), seconds(we - day.start) - duration
                        av = m.new_int_var(lo, hi, f"a[{bus},{day.date},{vid}]")
                        self.a[bus, t, vid] = av
                        iv = m.new_optional_fixed_size_interval_var(av, duration, self.s[bus, t, vid], f"i[{bus},{day.date},{vid}]")
                        intervals.setdefault((t, vid), []).append(iv)
                    for ri, route in enumerate(routes):
                        xr = self.x[bus, t, ri]
                        previous = None
                        for vid, earliest, _ in route:
                            # The greedy earliest time is implied by the chain; stated for propagation.
                            m.add(self.a[bus, t, vid] >= earliest).only_enforce_if(xr)
                            if previous is not None:
                                step = ev.venues[previous].visit_minutes * 60 + ev.travel_minutes(previous, vid) * 60
                                m.add(self.a[bus, t, vid] >= self.a[bus, t, previous] + step).only_enforce_if(xr)
                            previous = vid
                        if day.next is not None:  # back in time for what follows the gap
                            back = ev.venues[previous].visit_minutes * 60 + ev.travel_minutes(previous, day.next[0]) * 60
                            m.add(self.a[bus, t, previous] + back <= seconds(day.next[1] - day.start)).only_enforce_if(xr)
                else:
                    for vid in venue_ids:
                        duration = ev.venues[vid].visit_minutes * 60
                        by_time: dict[int, list] = {}
                        for ri, route in enumerate(routes):
                            for sid, arrival, _ in route:
                                if sid == vid:
                                    by_time.setdefault(arrival, []).append(self.x[bus, t, ri])
                        for arrival, members in sorted(by_time.items()):
                            pv = m.new_bool_var(f"p[{bus},{day.date},{vid}@{arrival}]")
                            m.add(pv == sum(members))
                            iv = m.new_optional_fixed_size_interval_var(arrival, duration, pv, f"i[{bus},{day.date},{vid}@{arrival}]")
                            intervals.setdefault((t, vid), []).append(iv)
        for ivs in intervals.values():
            if len(ivs) > 1:
                m.add_no_overlap(ivs)
        for qs in rides.values():  # one bus per delegation and day
            m.add(sum(qs) <= 1)
        for qs in gains.values():  # a delegation visits a venue at most once over the event
            if len(qs) > 1:
                m.add(sum(qs) <= 1)
        # Redundant (energy): the stops at a venue that must lie inside [A, B] are at most
        # (B - A) // visit length, since one group at a time. A stop's range runs from its
        # earliest arrival to its latest departure (backwards from the windows); with greedy
        # timing both are the fixed times, and these cuts are the cliques of overlapping visits.
        for t, day in enumerate(ev.days):
            spans = self._stop_spans(t)
            for vid, items in spans.items():
                duration = ev.venues[vid].visit_minutes * 60
                starts = sorted({e for _, e, _ in items})
                ends = sorted({l for _, _, l in items})
                for lo in starts:
                    for hi in ends:
                        visits = (hi - lo) // duration
                        if hi <= lo or visits >= len(self.buses):
                            continue
                        inside = [ri for ri, e, l in items if e >= lo and l <= hi]
                        if len(inside) > visits:
                            m.add(sum(self.x[bus, t, ri] for bus, _ in self.buses for ri in inside if (bus, t, ri) in self.x) <= visits)
        # The objective: each delegation gains a venue's weight once, whichever day and bus.
        objective = []
        self.weights = {}
        for d in self.visitors:
            for vid, venue in ev.venues.items():
                w = weight(d, venue)
                if w <= 0 or (d.id, vid) not in gains:
                    continue
                zv = m.new_bool_var(f"z[{d.id},{vid}]")
                m.add(zv <= sum(gains[d.id, vid]))
                self.z[d.id, vid] = zv
                self.weights[d.id, vid] = w
                objective.append(w * zv)
        m.maximize(sum(objective))

    def _stop_spans(self, t: int) -> dict:
        """Venue -> [(route index, earliest arrival, latest departure)] of its stops that day."""
        ev, day = self.inst.event, self.inst.event.days[t]
        windows = dict(day.open)
        spans: dict[str, list] = {}
        for ri, route in enumerate(self.routes[t]):
            latest = [0] * len(route)
            for k in range(len(route) - 1, -1, -1):
                vid = route[k][0]
                duration = ev.venues[vid].visit_minutes * 60
                latest[k] = seconds(windows[vid][1] - day.start) - duration
                if k + 1 < len(route):
                    latest[k] = min(latest[k], latest[k + 1] - ev.travel_minutes(vid, route[k + 1][0]) * 60 - duration)
            for k, (vid, earliest, departure) in enumerate(route):
                if self.timing == "greedy":
                    spans.setdefault(vid, []).append((ri, earliest, departure))
                else:
                    spans.setdefault(vid, []).append((ri, earliest, latest[k] + ev.venues[vid].visit_minutes * 60))
        return spans

    def stats(self) -> dict:
        return {
            "routesPerDay": {day.date: len(rs) for day, rs in zip(self.inst.event.days, self.routes)},
            "variables": len(self.m.proto.variables),
            "constraints": len(self.m.proto.constraints),
        }

    def plan_assignment(self, plan: dict) -> tuple[dict, list, list]:
        """Our plan as values of x, q (and a): {var: value}; what the model cannot express; and
        the stops where the plan arrives later than the route's earliest (greedy) time."""
        ev = self.inst.event
        day_index = {day.date: t for t, day in enumerate(ev.days)}
        values, problems, waits = {}, [], []
        chosen = {}
        for tour in plan.get("tours", []):
            t = day_index.get(tour["day"])
            bus = tour["busID"]
            if t is None:
                problems.append(f"{bus}@{tour['day']}: not a touring day in the model")
                continue
            if not tour["stops"]:
                continue  # nobody gains anything on a tour without stops
            key = tuple(s["venueID"] for s in tour["stops"])
            ri = self.route_index[t].get(key)
            if ri is None or (bus, t, ri) not in self.x:
                problems.append(f"{bus}@{tour['day']}: route {'>'.join(key)} is not among the enumerated routes")
                continue
            chosen[bus, t] = ri
            for stop, (_, earliest, _) in zip(tour["stops"], self.routes[t][ri]):
                arrival = seconds(parse_time(stop["arrival"]) - ev.days[t].start)
                if arrival != earliest:
                    waits.append(f"{bus}@{tour['day']} arrives at {stop['venueID']} {(arrival - earliest) // 60} min after its earliest time")
            for stop in tour["stops"]:
                if (bus, t, stop["venueID"]) in self.a:
                    values[self.a[bus, t, stop["venueID"]]] = seconds(parse_time(stop["arrival"]) - ev.days[t].start)
            for passenger in tour["passengers"]:
                if (passenger, bus, t, ri) not in self.q:
                    problems.append(f"{bus}@{tour['day']}: {passenger} may not ride route {'>'.join(key)} (role, size, capacity or documents)")
                    continue
                values[self.q[passenger, bus, t, ri]] = 1
        for (bus, t, ri), var in self.x.items():
            values[var] = 1 if chosen.get((bus, t)) == ri else 0
        for var in self.q.values():
            values.setdefault(var, 0)
        return values, problems, waits

    def solve(self, time_limit: float, workers: int, hint: dict | None = None, fix: dict | None = None) -> dict:
        cp_model = self.cp_model
        m = self.m
        if fix is not None:
            m = self.m.clone()
            m.clear_hints()
            for var, value in fix.items():
                m.add(m.get_int_var_from_proto_index(var.index) == value)
        else:
            m.clear_hints()
            for var, value in (hint or {}).items():
                m.add_hint(var, value)
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = time_limit
        solver.parameters.num_workers = workers
        solver.parameters.random_seed = 1
        # Level 2 adds LP cuts (knapsack covers among them); it closes the seed scenario's
        # greedy-timing model within the default time, level 1 does not.
        solver.parameters.linearization_level = 2
        started = time.monotonic()
        status = solver.solve(m)
        elapsed = time.monotonic() - started
        result = {"status": solver.status_name(status), "seconds": round(elapsed, 3)}
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            result["best"] = round(solver.objective_value)
            # Weights are integers, so the bound rounds down to one.
            result["bound"] = result["best"] if status == cp_model.OPTIMAL else math.floor(solver.best_objective_bound + 1e-6)
            if fix is None:
                result["tours"] = self._tours(solver)
        return result

    def _tours(self, solver) -> list:
        ev = self.inst.event
        tours = []
        for (bus, t, ri), var in self.x.items():
            if not solver.boolean_value(var):
                continue
            day = ev.days[t]
            stops = []
            for vid, arrival, departure in self.routes[t][ri]:
                if (bus, t, vid) in self.a:
                    arrival = solver.value(self.a[bus, t, vid])
                    departure = arrival + ev.venues[vid].visit_minutes * 60
                stops.append({"venueID": vid, "arrival": iso(day.start + arrival), "departure": iso(day.start + departure)})
            riders = sorted(d for (d, b, tt, r), qv in self.q.items() if b == bus and tt == t and r == ri and solver.boolean_value(qv))
            tours.append({"busID": bus, "day": day.date, "departure": iso(day.start), "stops": stops, "passengers": riders})
        return sorted(tours, key=lambda tour: (tour["day"], tour["busID"]))


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------------------
# Instances
# ---------------------------------------------------------------------------------------------


@dataclass
class Instance:
    name: str
    programme_path: Path
    registrations_path: Path
    programme: dict = None
    delegations: list = None
    event: EventModel = None
    visitors: list = None

    def load(self):
        self.programme = read_programme(json.loads(self.programme_path.read_text()))
        self.delegations = read_registrations(json.loads(self.registrations_path.read_text()), self.programme)
        self.event = EventModel(self.programme)
        seen, visitors = set(), []
        for d in self.delegations:  # Planner: role == .visiting && size > 0
            if d.role == "visiting" and d.size > 0 and d.id not in seen:
                seen.add(d.id)
                visitors.append(d)
        self.visitors = visitors
        return self


TAGS = [
    "logistics", "ai", "e-commerce", "semiconductors", "manufacturing", "fintech", "startups",
    "digital-marketing", "industrial-parks", "free-trade-zone", "innovation", "seaport",
]
GIVEN = ["Wei", "Fang", "Min", "Jun", "Lei", "Ying", "Hao", "Xin", "Lan", "Tao", "Anh", "Minh", "Linh", "Huy"]
FAMILY = ["Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Zhao", "Huang", "Nguyen", "Tran", "Le", "Pham"]


def synthetic(n: int, seed: int, folder: Path, scaled: bool = False) -> Instance:
    """A small event in the contract format: n visiting delegations (plus a few hosts), 4-6
    site visits, 2 days, 2-3 buses. Fixed seed: the same files every run. `scaled`: buses and
    site visits grow with n (about one bus per 12 delegations, up to 10; 4 + n/20 site visits,
    up to 10), still fewer seats than delegates: the regime where routes and riders interact."""
    rng = random.Random(seed * 100_003 + n + (7_919 if scaled else 0))
    dates = ["2026-03-10", "2026-03-11"]
    offset = "+07:00"

    def at(day: int, hhmm: str) -> str:
        return f"{dates[day]}T{hhmm}:00{offset}"

    def clock(minutes: int) -> str:
        return f"{minutes // 60:02d}:{minutes % 60:02d}"

    deadline = "2026-03-07T17:00:00+07:00"
    hall = {
        "id": "hall", "name": {"en": "Event hall"}, "address": "Hai Chau, Da Nang",
        "coordinates": {"latitude": 16.0678, "longitude": 108.2158},
        "openingWindows": [{"start": at(0, "08:00"), "end": at(0, "12:00")}],
        "visitMinutes": 60, "capacityPerVisit": 300, "topics": ["startups"], "isSiteVisit": False,
    }
    venues = [hall]
    count = min(10, 4 + n // 20) if scaled else rng.randint(4, 6)
    restricted = rng.sample(range(count), rng.randint(1, 2))
    for index in range(count):
        windows = []
        open_days = [day for day in (0, 1) if rng.random() < 0.75] or [rng.randint(0, 1)]
        for day in open_days:
            if day == 0:  # after the morning session and the meeting slot
                start = rng.choice(range(11 * 60, 14 * 60 + 1, 30))
                end = min(18 * 60, start + rng.choice(range(150, 301, 30)))
            elif rng.random() < 0.5:  # before the midday talk
                start = rng.choice([8 * 60, 8 * 60 + 30, 9 * 60])
                end = 12 * 60 + rng.choice([0, 30])
            else:
                start = rng.choice([13 * 60, 13 * 60 + 30, 14 * 60])
                end = min(18 * 60, start + rng.choice(range(150, 271, 30)))
            windows.append({"start": at(day, clock(start)), "end": at(day, clock(end))})
        venue = {
            "id": f"site-{chr(ord('a') + index)}", "name": {"en": f"Site {chr(ord('A') + index)}"}, "address": f"Street {index + 1}, Da Nang",
            "coordinates": {"latitude": round(16.06 + rng.uniform(-0.09, 0.09), 4), "longitude": round(108.2 + rng.uniform(-0.12, 0.1), 4)},
            "openingWindows": windows,
            "visitMinutes": rng.choice([45, 60, 60, 75, 90]),
            "capacityPerVisit": rng.choice([8, 10, 12, 15, 18, 20, 25]),
            "topics": sorted(rng.sample(TAGS, rng.randint(2, 4))),
            "isSiteVisit": True,
        }
        if index in restricted:
            venue["restrictedAccess"] = {"documents": rng.choice([["passport"], ["passport", "national-id"]]), "deadline": deadline}
        venues.append(venue)
    # Travel: about half the ordered pairs listed (road time a little off the straight line),
    # the rest from coordinates.
    matrix = []
    for a in venues:
        for b in venues:
            if a is b or rng.random() < 0.5:
                continue
            km = haversine_km(
                Venue(a["id"], a["coordinates"]["latitude"], a["coordinates"]["longitude"], [], 0, 0, [], None, True),
                Venue(b["id"], b["coordinates"]["latitude"], b["coordinates"]["longitude"], [], 0, 0, [], None, True),
            )
            matrix.append({"from": a["id"], "to": b["id"], "minutes": max(3, math.ceil(km * 1.4 / 30 * 60) + rng.randint(-3, 8))})
    bus_count = min(10, max(2, n // 12)) if scaled else rng.randint(2, 3)
    buses = [{"id": f"bus-{i + 1}", "seats": rng.choice([12, 16, 20, 24, 29])} for i in range(bus_count)]
    programme = {
        "eventID": f"synthetic-{n}", "version": 1, "name": {"en": f"Synthetic event, {n} delegations"},
        "timeZone": "Asia/Ho_Chi_Minh", "days": dates,
        "capacity": {"organisations": 200, "delegates": 1000}, "registrationDeadline": "2026-03-08T17:00:00+07:00",
        "sessions": [
            {"id": "opening", "title": {"en": "Opening"}, "venueID": "hall", "start": at(0, "08:30"), "end": at(0, "10:30")},
            {"id": "midday-talk", "title": {"en": "Midday talk"}, "venueID": "hall", "start": at(1, "12:00"), "end": at(1, "13:00")},
        ],
        "venues": venues, "buses": buses,
        "travel": {"matrix": matrix, "roadSpeedKmh": 30, "detourFactor": 1.4},
        "interpreters": [{"id": "int-1", "languages": ["zh-Hans", "vi"]}],
        "meetingSlots": [{"id": "b2b-1", "venueID": "hall", "start": at(0, "10:30"), "end": at(0, "11:00"), "tables": 4}],
        "publishedAt": "2026-02-20T09:00:00+07:00",
    }
    site_ids = [v["id"] for v in venues if v["isSiteVisit"]]
    registrations = []
    hosts = max(1, n // 6)
    for index in range(n + hosts):
        role = "visiting" if index < n else "host"
        company = f"company{index + 1:03d}"
        size = rng.choice([1, 2, 2, 3, 3, 3, 4, 5]) if role == "visiting" else rng.randint(1, 2)
        delegates = []
        for k in range(size):
            given, family = rng.choice(GIVEN), rng.choice(FAMILY)
            delegate = {"name": f"{family} {given}", "language": "zh-Hans" if role == "visiting" else "vi", "needsInterpreter": rng.random() < 0.3}
            roll = rng.random()
            if role == "visiting" and roll < 0.92:
                kind = "passport" if roll < 0.85 else "national-id"
                delegate["identityDocument"] = {
                    "kind": kind, "number": f"E{rng.randrange(10**7, 10**8)}", "issuingCountry": "CN",
                    "fullName": f"{family} {given}".upper(), "expiresOn": "2031-06-30",
                }
            delegates.append(delegate)
        submitted = datetime(2026, 3, 1, 9, tzinfo=timezone(timedelta(hours=7))) + timedelta(minutes=rng.randrange(0, 8 * 24 * 60))
        registrations.append({
            "eventID": programme["eventID"], "reference": f"syn{n}-{index + 1:03d}", "revision": 1,
            "organisation": {"name": f"Company {index + 1}", "country": "CN" if role == "visiting" else "VN", "sectors": sorted(rng.sample(TAGS, rng.randint(1, 2)))},
            "role": role,
            "leadContact": {"name": delegates[0]["name"], "email": f"lead@{company}.example.{'cn' if role == 'visiting' else 'vn'}", "language": delegates[0]["language"]},
            "delegates": delegates,
            "interests": {"sectors": sorted(rng.sample(TAGS, rng.randint(1, 2))), "topics": sorted(rng.sample(TAGS, rng.randint(0, 2)))},
            "preferredVisits": rng.sample(site_ids, rng.randint(1, min(4, len(site_ids)))) if role == "visiting" else [],
            "consent": {"dataProcessing": True, "givenAt": (submitted - timedelta(minutes=10)).isoformat()},
            "submittedAt": submitted.isoformat(),
        })
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "programme.json").write_text(json.dumps(programme, ensure_ascii=False, indent=2) + "\n")
    (folder / "registrations.json").write_text(json.dumps(registrations, ensure_ascii=False, indent=2) + "\n")
    validate(programme, registrations)
    return Instance(f"synthetic-{n}{'-scaled' if scaled else ''}", folder / "programme.json", folder / "registrations.json")


def validate(programme: dict, registrations: list):
    """JSON Schema check of the generated payloads, when jsonschema is installed."""
    try:
        import jsonschema
    except ImportError:
        return
    checks = [("programme.published", [programme]), ("registration.submitted", registrations)]
    for name, payloads in checks:
        path = CONTRACTS / f"{name}.schema.json"
        if not path.exists():
            continue
        validator = jsonschema.Draft202012Validator(json.loads(path.read_text()), format_checker=jsonschema.FormatChecker())
        for payload in payloads:
            errors = sorted(validator.iter_errors(payload), key=lambda e: list(e.path))
            if errors:
                raise SystemExit(f"generated {name} does not match its schema: {errors[0].message} at {list(errors[0].path)}")


# ---------------------------------------------------------------------------------------------
# Our planner, through the CLI
# ---------------------------------------------------------------------------------------------


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "instance"


def score_plan(binary: Path, inst: Instance, plan_path: Path) -> dict:
    """`itineraries score --json`: PlanChecker's violations and score of any plan file."""
    args = ["--programme", str(inst.programme_path), "--registrations", str(inst.registrations_path), "--plan", str(plan_path), "--json"]
    scored = subprocess.run([str(binary), "score", *args], capture_output=True, text=True)
    if scored.returncode not in (0, 1):
        raise SystemExit(f"itineraries score failed ({scored.returncode}): {scored.stderr.strip()}")
    return json.loads(scored.stdout)


def run_planner(binary: Path, inst: Instance, folder: Path, iterations: int | None = None) -> dict:
    """Our plan; with `iterations=0`, the planner's construction alone (route first, riders by
    value, no search): the route-first greedy plan CP-SAT can start from."""
    kind = "ours" if iterations is None else ("construction" if iterations == 0 else f"iterations-{iterations}")
    plan_path = folder / f"{slug(inst.name)}.{kind}.plan.json"
    args = ["--programme", str(inst.programme_path), "--registrations", str(inst.registrations_path)]
    if iterations is not None:
        args += ["--iterations", str(iterations)]
    started = time.monotonic()
    planned = subprocess.run([str(binary), "plan", *args, "--out", str(plan_path)], capture_output=True, text=True)
    wall = time.monotonic() - started
    if planned.returncode != 0:
        raise SystemExit(f"itineraries plan failed ({planned.returncode}): {planned.stderr.strip()}")
    report = score_plan(binary, inst, plan_path)
    match = re.search(r"in ([0-9.,]+)\s*ms", planned.stderr)
    return {
        "plan": json.loads(plan_path.read_text()),
        "planPath": str(plan_path),
        "score": report["score"],
        "violations": [f"{v['rule']}: {v['detail']}" for v in report["violations"]],
        "plannerMs": float(match.group(1).replace(",", "")) if match else None,
        "cliSeconds": round(wall, 3),
    }


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------


def compare(inst: Instance, ours: dict, timing: str, args) -> dict:
    started = time.monotonic()
    model = TourModel(inst, timing, args.max_stops)
    build_seconds = time.monotonic() - started
    assignment, problems, waits = model.plan_assignment(ours["plan"])
    replay = model.solve(min(args.time_limit, 30), args.workers, fix=assignment) if not problems else {"status": "NOT EXPRESSIBLE"}
    # With --seating: our routes and times kept, the riders chosen by CP-SAT. The difference to
    # our value is what better seating alone would gain; the rest of a gap is in the routes.
    seating = None
    if args.seating and not problems:
        routes = {var: value for var, value in assignment.items() if var.name.startswith(("x[", "a["))}
        seated = model.solve(args.time_limit, args.workers, fix=routes)
        seating = {"status": seated["status"], "best": seated.get("best"), "bound": seated.get("bound"), "seconds": seated["seconds"]}
    # CP-SAT starts from a hint: the planner's route-first construction (default), our final
    # plan, or nothing.
    hint = None
    if args.hint == "ours":
        hint = assignment
    elif args.hint == "greedy":
        greedy = run_planner(args.bin / "itineraries", inst, Path(ours["planPath"]).parent, iterations=0)
        hint, _, _ = model.plan_assignment(greedy["plan"])
        ours["greedyValue"] = greedy["score"]["visitValue"]
    solved = model.solve(args.time_limit, args.workers, hint=hint)
    value = ours["score"]["visitValue"]
    best, bound = solved.get("best"), solved.get("bound")
    # CP-SAT's best tours as a plan, checked and scored by our own PlanChecker (the CLI).
    checked = None
    if solved.get("tours") is not None:
        plan = {"eventID": inst.programme["eventID"], "programmeVersion": ours["plan"].get("programmeVersion", 1),
                "tours": solved["tours"], "meetings": [], "unmet": {}}
        path = Path(ours["planPath"]).with_name(f"{slug(inst.name)}.cpsat-{timing}.plan.json")
        path.write_text(json.dumps(plan, indent=2) + "\n")
        report = score_plan(args.bin / "itineraries", inst, path)
        checked = {"plan": str(path), "visitValue": report["score"]["visitValue"],
                   "violations": [f"{v['rule']}: {v['detail']}" for v in report["violations"]]}
    row = {
        "instance": inst.name,
        "timing": timing,
        "delegations": len(inst.delegations),
        "visitors": len(inst.visitors),
        "buses": len(inst.programme["buses"]),
        "siteVisits": sum(1 for v in inst.programme["venues"] if v.site),
        "days": [{"date": d.date, "touring": f"{iso(d.start)}–{iso(d.end)}", "depot": d.depot, "open": [v for v, _ in d.open]} for d in inst.event.days],
        "ours": value,
        "hint": args.hint,
        "greedy": ours.get("greedyValue"),
        # With a larger budget (--longer): value and planner ms.
        "longer": ours.get("longer"),
        # Visiting delegations with a tour on at least one day, in our plan and in CP-SAT's.
        "oursWithTour": len({p for t in ours["plan"]["tours"] for p in t["passengers"]} & {d.id for d in inst.visitors}),
        "cpsatWithTour": None if solved.get("tours") is None
        else len({p for t in solved["tours"] for p in t["passengers"]} & {d.id for d in inst.visitors}),
        "oursViolations": ours["violations"],
        "plannerMs": ours["plannerMs"],
        "best": best,
        "bound": bound,
        "gapPercent": round(100 * (best - value) / best, 2) if best else None,
        "gapToBoundPercent": round(100 * (bound - value) / bound, 2) if bound else None,
        "status": solved["status"],
        "solverSeconds": solved["seconds"],
        "buildSeconds": round(build_seconds, 3),
        "model": model.stats(),
        "replay": {"status": replay["status"], "value": replay.get("best"), "problems": problems, "waits": waits},
        "cpsatChecked": checked,
        "cpsatTours": solved.get("tours"),
        "seating": seating,
    }
    # Our plan must be a point of the model worth exactly visitValue, and can never beat a
    # proven bound; otherwise the model does not mirror the planner.
    warnings, notes = [], []
    if ours["violations"]:
        warnings.append(f"PlanChecker finds {len(ours['violations'])} violations in our plan: {'; '.join(ours['violations'])}")
    if replay["status"] not in ("OPTIMAL", "FEASIBLE") and timing == "greedy" and waits and not problems:
        # Expected: the planner waits at a venue until another group has left (earliestSlot),
        # which fixed earliest times cannot express. The flexible model can.
        notes.append(f"our plan waits at {len(waits)} stop(s), outside the greedy-times model: {'; '.join(waits)}")
    elif replay["status"] not in ("OPTIMAL", "FEASIBLE"):
        warnings.append(f"our plan is not feasible in the {timing} model ({replay['status']}; {'; '.join(problems) or 'fixed values infeasible'})")
    elif replay.get("best") != round(value):
        warnings.append(f"the {timing} model values our plan at {replay.get('best')}, PlanChecker at {value}")
    if checked is not None and (checked["violations"] or checked["visitValue"] != best):
        warnings.append(f"PlanChecker scores CP-SAT's {timing} plan at {checked['visitValue']} (model: {best}) with {len(checked['violations'])} violations")
    longer = ours.get("longer")
    if bound is not None and longer and longer["value"] > bound + 1e-9:
        warnings.append(f"our plan with the longer budget ({longer['value']}) beats the {timing} model's bound ({bound})")
    if bound is not None and value > bound + 1e-9:
        warnings.append(f"our plan ({value}) beats the {timing} model's bound ({bound}): the model does not match the planner")
    row["warnings"] = warnings
    row["notes"] = notes
    return row


def table(rows: list) -> str:
    header = ["instance", "timing", "deleg. (visiting)", "ours", "CP-SAT best", "CP-SAT bound", "gap %", "gap ≤ % (bound)", "status",
              "ours in model", "CP-SAT plan checked", "planner ms", "CP-SAT s", "with a tour (ours / CP-SAT)", "CP-SAT hint"]
    longer = any(r.get("longer") for r in rows)
    if longer:
        header.append("ours, longer budget (ms)")
    lines = []
    for r in rows:
        lines.append([
            r["instance"], r["timing"], f"{r['delegations']} ({r['visitors']})", f"{r['ours']:g}",
            "–" if r["best"] is None else str(r["best"]), "–" if r["bound"] is None else str(r["bound"]),
            "–" if r["gapPercent"] is None else f"{r['gapPercent']:.1f}",
            "–" if r["gapToBoundPercent"] is None else f"{r['gapToBoundPercent']:.1f}", r["status"],
            "yes" if r["replay"]["status"] in ("OPTIMAL", "FEASIBLE") and r["replay"]["value"] == round(r["ours"])
            else ("no (waits)" if r["notes"] else "NO"),
            "–" if r["cpsatChecked"] is None else (f"{len(r['cpsatChecked']['violations'])} viol., {r['cpsatChecked']['visitValue']:g}"),
            "–" if r["plannerMs"] is None else f"{r['plannerMs']:.1f}", f"{r['solverSeconds']:.2f}",
            f"{r['oursWithTour'] / max(1, r['visitors']):.0%} / "
            + ("–" if r["cpsatWithTour"] is None else f"{r['cpsatWithTour'] / max(1, r['visitors']):.0%}"),
            r["hint"] + ("" if r["greedy"] is None else f" ({r['greedy']:g})"),
        ] + ([] if not longer else ["–" if not r.get("longer") else f"{r['longer']['value']:g} ({r['longer']['plannerMs']:.0f})"]))
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)] if lines else [len(h) for h in header]
    out = ["| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |", "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += ["| " + " | ".join(c.ljust(w) for c, w in zip(line, widths)) + " |" for line in lines]
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--programme", type=Path, help="a programme.published JSON file")
    parser.add_argument("--registrations", type=Path, help="a JSON array of registration.submitted or .accepted payloads")
    parser.add_argument("--name", help="the instance's name in the table (default: the event id)")
    parser.add_argument("--synthetic", type=int, action="append", default=[], metavar="N", help="a synthetic instance with N visiting delegations (repeatable)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the synthetic instances (default 7)")
    parser.add_argument("--scaled", action="store_true", help="synthetic instances whose buses and site visits grow with N")
    parser.add_argument("--hint", choices=["greedy", "ours", "none"], default="greedy",
                        help="what CP-SAT starts from: the planner's route-first construction (default), our plan, or nothing")
    parser.add_argument("--bin", type=Path, default=Path(".build/release"), help="directory holding the itineraries binary (default .build/release)")
    parser.add_argument("--longer", type=int, metavar="ITERATIONS",
                        help="also plan with this many search iterations (still capped at 1.5 s, as the service) and report it beside the default")
    parser.add_argument("--time-limit", type=float, default=60, help="CP-SAT seconds per solve (default 60)")
    parser.add_argument("--workers", type=int, default=1, help="CP-SAT workers (default 1)")
    parser.add_argument("--timing", choices=["greedy", "flexible", "both"], default="both", help="stop-time model (default both)")
    parser.add_argument("--seating", action="store_true",
                        help="also solve the seating alone: our plan's routes and times kept, the riders chosen by CP-SAT")
    parser.add_argument("--max-stops", type=int, default=3, help="stops per tour at most (Planner.maxStopsPerTour, 3)")
    parser.add_argument("--work-dir", type=Path, help="where synthetic instances and plans go (default: a new temporary folder)")
    parser.add_argument("--json-out", type=Path, help="write the results as JSON here")
    args = parser.parse_args()

    binary = args.bin / "itineraries"
    if not binary.exists():
        parser.error(f"{binary} not found: build it (swift build -c release --product itineraries) or pass --bin")
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="ortools-compare-"))
    work.mkdir(parents=True, exist_ok=True)

    instances = []
    if (args.programme is None) != (args.registrations is None):
        parser.error("--programme and --registrations go together")
    if args.programme is None and not args.synthetic:  # the default suite
        instances.append(Instance("seed (Da Nang)", SAMPLE / "programme.json", SAMPLE / "registrations.json"))
        args.synthetic = [6, 10, 16]
    elif args.programme is not None:
        instances.append(Instance(args.name or "", args.programme.resolve(), args.registrations.resolve()))
    for n in args.synthetic:
        instances.append(synthetic(n, args.seed, work / f"synthetic-{n}", scaled=args.scaled))

    timings = ["greedy", "flexible"] if args.timing == "both" else [args.timing]
    rows = []
    for inst in instances:
        inst.load()
        inst.name = inst.name or inst.programme["eventID"]
        ours = run_planner(binary, inst, work)
        if args.longer:
            extra = run_planner(binary, inst, work, iterations=args.longer)
            ours["longer"] = {"iterations": args.longer, "value": extra["score"]["visitValue"], "plannerMs": extra["plannerMs"],
                              "violations": extra["violations"]}
            if extra["violations"]:
                print(f"warning: {inst.name}: {len(extra['violations'])} violations with the longer budget", file=sys.stderr)
        for timing in timings:
            row = compare(inst, ours, timing, args)
            rows.append(row)
            for warning in row["warnings"]:
                print(f"warning: {inst.name}: {warning}", file=sys.stderr)
            for note in row["notes"]:
                print(f"note: {inst.name} [{timing}]: {note}", file=sys.stderr)
            print(f"{inst.name} [{timing}]: ours {row['ours']:g}, CP-SAT {row['best']} (bound {row['bound']}, {row['status']}, {row['solverSeconds']:.2f} s)", file=sys.stderr)
            if row["seating"] is not None:
                seated = row["seating"]
                print(f"{inst.name} [{timing}]: our routes and times, riders by CP-SAT: {seated['best']} (bound {seated['bound']}, "
                      f"{seated['status']}, {seated['seconds']:.2f} s)", file=sys.stderr)
    print(table(rows))
    print(f"\ninstances and plans in {work}", flush=True)
    if args.json_out:
        from ortools import __version__ as ortools_version

        args.json_out.write_text(json.dumps({
            "generatedAt": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "command": sys.argv,
            "ortools": ortools_version,
            "timeLimitSeconds": args.time_limit,
            "workers": args.workers,
            "seed": args.seed,
            "rows": rows,
        }, ensure_ascii=False, indent=2) + "\n")
    beaten = [r for r in rows if r["bound"] is not None and r["ours"] > r["bound"] + 1e-9]
    return 2 if beaten else 0


if __name__ == "__main__":
    sys.exit(main())
