"""A simulated plant: machines with physically plausible, correlated signals,
duty cycles, drift, noise and injected faults, streaming through the device SDK.

- ``signals``: a kind's equipment model, as the REST API registers it;
- ``machines``: the machine kinds (CNC mills, centrifugal pumps, hydraulic
  presses) and their physics, vectorised over all machines of a kind;
- ``faults``: bearing wear, coolant loss, leaks, stuck sensors, NaN bursts,
  dropouts, injected at random (seeded) or on purpose;
- ``fleet``: the machines of a plant, stepped together, reproducible by seed;
- ``onboarding``: registers models, plant, lines, stations, machines and
  device credentials through the REST API;
- ``runner``: one DeviceClient per machine, fed at the fleet's rate, with totals;
- ``display`` and ``command``: ``imcloud simulate`` with live progress and a
  summary; ``demo``: the small plant of ``imcloud up --demo``.
"""
