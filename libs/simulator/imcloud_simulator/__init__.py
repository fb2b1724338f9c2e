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
- ``detection``: what the platform detected (episodes, tickets), asked through
  the REST API once it scored the last batches;
- ``display`` and ``command``: ``imcloud simulate`` with progress (live on a
  terminal, as lines when piped), a summary, and the faults injected next to
  what the platform detected.
"""
