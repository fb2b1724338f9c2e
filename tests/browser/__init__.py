"""A package, so that its fixtures' platform and the 100 machines streaming into it stop
when the last browser test ends instead of loading every test after them."""
