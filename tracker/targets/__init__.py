"""Yearly targets per unit (目标任务), set by managers."""
