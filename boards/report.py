"""Build reports: what nextpnr and Yosys measured, next to what was asked.

nextpnr writes ``--report`` JSON (utilisation per cell type, Fmax per clock);
Yosys writes ``stat -json`` after synthesis (cells by type). From these the
report takes LUT / FF / BRAM / SPRAM / DSP used and available, the achieved
clock against the requested one, the multiplier cells (there must be none)
and the throughput at the built clock: the engine's, and the end-to-end rate
the serial link leaves of it (:mod:`boards.link_rate`).

Members
-------
make_report
    The report dict (what ``report.json`` holds).
format_table
    The printed table.
multiplier_cells
    Hard-multiplier cells in a synthesis cell count.
"""

import json

#: Hard multipliers per family: a mulfree netlist must contain none of these.
MULTIPLIER_CELLS = {
    "ice40": ("SB_MAC16",),
    "ecp5": ("MULT18X18D", "MULT9X9D", "ALU54B"),
}

#: Report resource name -> nextpnr cell type, per family (FF on iCE40 comes from Yosys).
PNR_CELLS = {
    "ice40": {"LUT": "ICESTORM_LC", "BRAM": "ICESTORM_RAM", "SPRAM": "ICESTORM_SPRAM",
              "DSP": "ICESTORM_DSP"},
    "ecp5": {"LUT": "TRELLIS_COMB", "FF": "TRELLIS_FF", "BRAM": "DP16KD", "DSP": "MULT18X18D"},
}

RESOURCES = ("LUT", "FF", "BRAM", "SPRAM", "DSP")


def load_json(path):
    with open(path) as handle:
        return json.load(handle)


def synth_cell_counts(stat):
    """Cells by type from Yosys ``stat -json`` output (top design totals)."""
    design = stat.get("design", {})
    counts = design.get("num_cells_by_type")
    if counts is None:  # older Yosys: only per module
        counts = {}
        for module in stat.get("modules", {}).values():
            for cell, n in module.get("num_cells_by_type", {}).items():
                counts[cell] = counts.get(cell, 0) + n
    return {cell: int(n) for cell, n in counts.items()}


def multiplier_cells(counts, family):
    """``{cell type: count}`` of hard multipliers in ``counts`` (empty: none)."""
    return {cell: counts[cell] for cell in MULTIPLIER_CELLS[family] if counts.get(cell)}


def utilisation(pnr, synth_counts, board):
    """``{resource: {"used", "available"}}`` for the report's resources."""
    cells = pnr.get("utilization", {})
    device = board.capacity
    out = {}
    for name in RESOURCES:
        cell = PNR_CELLS[board.family].get(name)
        if cell is not None and cell in cells:
            out[name] = {"used": int(cells[cell]["used"]),
                         "available": int(cells[cell]["available"])}
        elif name == "FF":
            used = sum(n for cell, n in synth_counts.items() if cell.startswith("SB_DFF"))
            out[name] = {"used": int(used), "available": device.ff}
        elif name == "SPRAM":
            out[name] = {"used": 0, "available": device.spram}
    return out


def clock_figures(pnr):
    """``(achieved_hz, constraint_hz)`` of the slowest clock nextpnr timed."""
    clocks = pnr.get("fmax", {})
    if not clocks:
        return None, None
    worst = min(clocks.values(), key=lambda entry: entry["achieved"] - entry["constraint"])
    return worst["achieved"] * 1e6, worst["constraint"] * 1e6


def make_report(*, board, pnr, synth_counts, clock_hz, baud, cycles_per_image,
                latency_cycles, estimate, fingerprint, tools, link=None, in_lanes=1):
    """The build report.

    Parameters
    ----------
    board : boards.registry.Board
    pnr : dict
        nextpnr ``--report`` JSON.
    synth_counts : dict
        Cells by type after synthesis.
    clock_hz : float
        The clock the PLL makes (what the board runs at).
    cycles_per_image, latency_cycles : int
        The accelerator's initiation interval and latency (estimates).
    in_lanes : int
        Pixels the board top feeds the accelerator per beat.
    estimate : dict
        The accelerator's own estimate, kept for comparison.
    fingerprint : str
        The QNet's fingerprint.
    tools : dict
        Tool -> ``(command, source)``.
    link : boards.link_rate.LinkBound, optional
        The serial link's bound (at ``baud``); the report then has ``link``
        and ``end_to_end_images_per_s``.
    """
    achieved_hz, constraint_hz = clock_figures(pnr)
    multipliers = multiplier_cells(synth_counts, board.family)
    resources = utilisation(pnr, synth_counts, board)
    images_per_s = clock_hz / cycles_per_image
    report = {
        "board": board.name,
        "device": board.device,
        "qnet_fingerprint": fingerprint,
        "resources": resources,
        "clock": {
            "requested_mhz": round(clock_hz / 1e6, 3),
            "constraint_mhz": round(constraint_hz / 1e6, 3) if constraint_hz else None,
            "achieved_mhz": round(achieved_hz / 1e6, 3) if achieved_hz else None,
            "met": bool(achieved_hz is not None and achieved_hz >= clock_hz * 0.999),
        },
        "uart_baud": int(baud),
        # A group of images in flight shares its cycles: a float when they do not divide.
        "cycles_per_image": (cycles_per_image if isinstance(cycles_per_image, float)
                             else int(cycles_per_image)),
        "latency_cycles": int(latency_cycles),
        "in_lanes": int(in_lanes),
        "images_per_s": round(images_per_s, 1),
        "images_per_s_at_fmax": round(achieved_hz / cycles_per_image, 1) if achieved_hz else None,
        "multiplier_free": {"hard_multiplier_cells": multipliers, "ok": not multipliers},
        "fits": all(entry["used"] <= entry["available"] for entry in resources.values()),
        "estimate": estimate,
        "tools": {tool: {"command": command, "source": source}
                  for tool, (command, source) in tools.items()},
    }
    if link is not None:
        report["link"] = link.as_dict()
        report["end_to_end_images_per_s"] = round(
            link.end_to_end(images_per_s, latency_cycles / clock_hz), 1)
    return report


def format_table(report):
    """A plain-text table of the report's figures."""
    lines = [f"{report['board']} ({report['device']})  QNet {report['qnet_fingerprint'][:16]}",
             f"{'resource':<10}{'used':>10}{'available':>12}{'%':>8}"]
    for name, entry in report["resources"].items():
        share = 100.0 * entry["used"] / entry["available"] if entry["available"] else 0.0
        lines.append(f"{name:<10}{entry['used']:>10}{entry['available']:>12}{share:>7.1f}%")
    clock = report["clock"]
    lines += [
        f"clock      {clock['achieved_mhz']} MHz achieved vs {clock['requested_mhz']} MHz "
        f"requested ({'met' if clock['met'] else 'MISSED'})",
        f"cycles     {report['cycles_per_image']} per image, latency {report['latency_cycles']}"
        f", {report.get('in_lanes', 1)} pixel(s) per beat",
        f"images/s   {report['images_per_s']:,.0f} at {clock['requested_mhz']} MHz"
        + (f" ({report['images_per_s_at_fmax']:,.0f} at Fmax)"
           if report["images_per_s_at_fmax"] else ""),
        "multipliers " + ("none (SB_MAC16 / MULT18X18D: 0)" if report["multiplier_free"]["ok"]
                          else str(report["multiplier_free"]["hard_multiplier_cells"])),
        f"uart       {report['uart_baud']} baud",
    ]
    link = report.get("link")
    if link:
        way = (f"batches of {link['batch']}, pipelined" if link["pipelined"]
               else "one image per round trip")
        lines += [
            f"link       {link['image_bytes']} B per image, {link['answer_bytes']} B per "
            f"answer (class only), {link['framing_bytes']:g} B framing per image, "
            f"{link['bits_per_byte']} bits per byte: {link['images_per_s']:,.0f} images/s "
            f"({way})",
            f"end to end {report['end_to_end_images_per_s']:,.0f} images/s over the UART "
            f"(engine {report['images_per_s']:,.0f})",
        ]
    weights = report.get("weights")
    if weights and weights["load_slices"]:
        loaded = {k: store for k, store in enumerate(weights["store"]) if store != "rom"}
        layers = ", ".join(str(k) for k in loaded)
        lines.append(f"weights    layer(s) {layers} in {'/'.join(sorted(set(loaded.values())))}"
                     f": {weights['load_bytes']:,} bytes loaded over the UART by "
                     f"'mulfree run' after each power-up")
    return "\n".join(lines)
