"""Measurements of one model: parameters, FLOPs, latency statistics, memory."""
