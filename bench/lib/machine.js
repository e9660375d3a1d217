// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// What machine produced a figure: every report (bench/RESULTS.md, docs/experiments.md) states
// it next to the figures.
const fs = require('fs');
const os = require('os');

function machineInfo() {
  let model = 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) model = m[1].trim();
  } catch {
    // Not Linux, or /proc is hidden; the model is informational only.
  }
  return { model, cpus: os.cpus().length, kernel: os.release(), node: process.version };
}

module.exports = { machineInfo };
