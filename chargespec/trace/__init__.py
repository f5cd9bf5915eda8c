"""`chargespec trace`: judge a real OCPP-J log against the spec.

`readers` turns a log (the virtual charge point's JSON lines, the `ocpp` package's logger
lines, generic timestamp / direction / frame lines) into frames, with every line it cannot read
reported by number; `check` searches for a run of the model that explains the charge point's
frames, inferring the physical events the wire never shows.
"""
