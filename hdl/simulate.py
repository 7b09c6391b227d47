"""Run an :class:`~hdl.accelerator.Accelerator` in Amaranth's simulator.

A producer streams the images' pixels (``in_lanes`` per beat) and a
consumer collects one ``(class, logits)`` transfer per image, each with
optional random idle cycles (valid low / ready low), so that tests and the
cycles-per-image benchmark share one driver. An accelerator with loadable
weights first gets every slice of its load map through ``wload``, one per
cycle, while the producer already offers pixels; ``weights_ready`` rises
after the last slice.
"""

from dataclasses import dataclass

import numpy as np
from amaranth.hdl import Fragment
from amaranth.sim import Simulator

from hdl.spram import AMARANTH_SIMULATION

__all__ = ["SimulationResult", "simulate_accelerator", "beats_of"]


@dataclass
class SimulationResult:
    """What came out of a simulation.

    Members
    -------
    logits : ndarray of int64, shape (images, classes)
    classes : ndarray of int64, shape (images,)
    out_cycles : ndarray of int64, shape (images,)
        Cycle (counted from the first clock edge) at which each output transfer happened.
    first_input_cycle : int
        Cycle of the first input transfer.
    extra_outputs : int
        Output transfers offered after the last expected one (must be 0).
    """

    logits: np.ndarray
    classes: np.ndarray
    out_cycles: np.ndarray
    first_input_cycle: int
    extra_outputs: int = 0

    @property
    def steady_cycles_per_image(self):
        """Mean distance between consecutive outputs (None for fewer than two images)."""
        if len(self.out_cycles) < 2:
            return None
        return float(np.diff(self.out_cycles).mean())

    @property
    def first_latency(self):
        """Cycles from the first input transfer to the first output transfer."""
        return int(self.out_cycles[0] - self.first_input_cycle)


def beats_of(image, lanes):
    """Split one image into beats of ``lanes`` pixels; the last beat is zero-padded."""
    image = np.asarray(image, dtype=np.int64)
    count = -(-len(image) // lanes)
    padded = np.zeros(count * lanes, dtype=np.int64)
    padded[:len(image)] = image
    return padded.reshape(count, lanes)


def simulate_accelerator(accelerator, images, *, in_gap=0.0, out_gap=0.0, seed=0,
                         max_cycles=None, watch_after=32, vcd=None, weight_writes=None):
    """Stream ``images`` through ``accelerator`` and collect its outputs.

    Parameters
    ----------
    accelerator : Accelerator
    images : array_like of int, shape (n, n_inputs)
    in_gap, out_gap : float
        Probability of an idle cycle before each input beat / of ``ready``
        being low in a cycle.
    seed : int
    max_cycles : int, optional
        Give up (``RuntimeError``) after this many cycles; defaults to a
        generous bound from the estimate.
    watch_after : int
        Cycles to keep watching (ready high) after the last expected output.
    vcd : str, optional
        Write a waveform file.
    weight_writes : list of (int, int), optional
        For a loadable accelerator: the ``(address, value)`` writes to make
        before raising ``weights_ready`` (default: ``accelerator.load_map.writes()``).

    Returns
    -------
    SimulationResult
    """
    images = np.asarray(images, dtype=np.int64)
    n_images = len(images)
    n_classes = accelerator.qnet.n_classes
    lanes = accelerator.in_lanes
    rng = np.random.default_rng(seed)
    if max_cycles is None:
        slack = 1.0 / max(1e-3, 1.0 - max(in_gap, out_gap))
        max_cycles = int((accelerator.latency_cycles
                          + (n_images + 1) * accelerator.cycles_per_image) * 4 * slack) + 200
    logits = np.zeros((n_images, n_classes), dtype=np.int64)
    classes = np.zeros(n_images, dtype=np.int64)
    out_cycles = np.zeros(n_images, dtype=np.int64)
    first_input = []
    extra = [0]
    in_pauses = rng.random(size=(n_images, -(-images.shape[1] // lanes), 8)) < in_gap
    out_ready = rng.random(size=max_cycles) >= out_gap

    # Vendor primitives (the SPRAM) elaborate to their models for this simulator.
    sim = Simulator(Fragment.get(accelerator, platform=AMARANTH_SIMULATION))
    sim.add_clock(1e-8)
    clock = {"cycle": 0}

    async def count_cycles(ctx):
        async for _ in ctx.tick():
            clock["cycle"] += 1

    async def producer(ctx):
        for n, image in enumerate(images):
            for b, beat in enumerate(beats_of(image, lanes)):
                for pause in in_pauses[n, b]:
                    if not pause:
                        break
                    await ctx.tick()
                ctx.set(accelerator.i.payload, [int(v) for v in beat])
                ctx.set(accelerator.i.valid, 1)
                await ctx.tick().until(accelerator.i.ready)
                if not first_input:
                    first_input.append(clock["cycle"])
                ctx.set(accelerator.i.valid, 0)

    async def consumer(ctx):
        received = 0
        for cycle in range(max_cycles):
            ready = bool(out_ready[cycle])
            ctx.set(accelerator.o.ready, ready)
            _, _, valid, payload = await ctx.tick().sample(accelerator.o.valid,
                                                           accelerator.o.payload)
            if valid and ready:
                classes[received] = int(payload.cls)
                logits[received] = [int(payload.logits[c]) for c in range(n_classes)]
                out_cycles[received] = clock["cycle"]
                received += 1
                if received == n_images:
                    # Anything offered now would be a duplicate or an invented image.
                    ctx.set(accelerator.o.ready, 1)
                    for _ in range(watch_after):
                        _, _, valid = await ctx.tick().sample(accelerator.o.valid)
                        extra[0] += int(valid)
                    return
        raise RuntimeError(f"simulation: only {received} of {n_images} outputs after "
                           f"{max_cycles} cycles")

    if accelerator.loadable:
        writes = accelerator.load_map.writes() if weight_writes is None else weight_writes
        max_cycles += len(writes)

        async def loader(ctx):
            for address, value in writes:
                ctx.set(accelerator.wload, {"en": 1, "addr": address, "data": value})
                await ctx.tick()
            ctx.set(accelerator.wload.en, 0)
            ctx.set(accelerator.weights_ready, 1)

        sim.add_testbench(loader, background=True)
    sim.add_process(count_cycles)
    sim.add_testbench(producer, background=True)
    sim.add_testbench(consumer)
    if vcd:
        with sim.write_vcd(vcd):
            sim.run()
    else:
        sim.run()
    return SimulationResult(logits, classes, out_cycles, first_input[0] if first_input else 0,
                            extra[0])
