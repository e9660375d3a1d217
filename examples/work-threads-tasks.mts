// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// The tasks of the work-threads example, imported by the main thread and the work threads, so
// that every define() and schedule() is type-checked against the same payload and reply types.
// #region tasks
import { demo, taskType } from 'evwire';

/** Protobuf-typed: the payload and the reply travel as protobuf bytes. */
export const move = taskType('move', { request: demo.Move, reply: demo.Moved });
/** Typed by generics: payload { player }, reply { total, thread }. */
export const score = taskType<{ player: number }, { total: number; thread: number }>('score');
/** A work thread tells the main thread who logged in, and on which connection. */
export const joined = taskType<{ connId: number; user: string }, void>('joined');
/** A buddy task: runs on the thread that owns the connection, with it in ctx.conn. */
export const kick = taskType<{ reason: string }, { thread: number }>('kick');
// #endregion tasks
