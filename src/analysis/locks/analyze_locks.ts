/**
 * `--locks`: what each thread waits for and holds, read from its registers
 * (the system call it is in), the GILs, and the lock objects its frames refer
 * to. Runs while a live target is paused, or on a core. Never throws for bad
 * memory: an unreadable fact is an unknown owner.
 *
 * @module
 */

import type { MemoryReader } from "../../memory/memory_reader.ts";
import type { PythonRuntime } from "../../cpython/runtime.ts";
import type { X86_64Registers } from "../../elf/core_notes.ts";
import type { InterpreterInfo, LockHeld, LockWait, PyThread, ThreadSyscall } from "../../model.ts";
import { readStruct } from "../../cpython/struct_view.ts";
import { rethrowFatal } from "../../errors.ts";
import { describeSyscall, futexWaitOf, syscallOf } from "./syscalls.ts";
import { classifyFutex, type GilRegion, gilRegion, MUTEX_OWNER_OFFSET } from "./futex_rules.ts";
import { FrameObjects, type LockObject, type ThreadObjects } from "./frame_objects.ts";
import { inConditionWait, pythonWaitOf } from "./python_waits.ts";

/** What {@linkcode analyzeLocks} reads. */
export interface LocksContext {
  mem: MemoryReader;
  rt: PythonRuntime;
  runtime: bigint | undefined;
  symbols: Map<string, bigint>;
  interpreters: readonly InterpreterInfo[];
  /** The walked threads (one per thread state). */
  threads: readonly PyThread[];
  /** Registers of every OS thread of the process. */
  registers: ReadonlyMap<number, X86_64Registers>;
  /** Live: what a descriptor of the target is (`TCP …`, `pipe`, a path). */
  describeFd?: (fd: number) => string | undefined;
}

/** What `--locks` found for one OS thread. */
export interface ThreadLocks {
  waitingFor?: LockWait;
  holds: LockHeld[];
  syscall?: ThreadSyscall;
}

/** A waiter refers to the lock it sleeps on in its newest frames (`with L:`, `L.acquire()`). */
const WAITER_FRAMES = 2;

/** Size of `_gil_runtime_state` where no layout says (3.7 to 3.11, GIL builds). */
const GIL_SIZE = 208n;

function hex(a: bigint): string {
  return `0x${a.toString(16)}`;
}

/** Per OS thread id: waits, holds and system call. Also warnings. */
export function analyzeLocks(ctx: LocksContext): {
  perThread: Map<number, ThreadLocks>;
  warnings: string[];
} {
  const warnings: string[] = [];
  const perThread = new Map<number, ThreadLocks>();
  const entry = (tid: number) => {
    let e = perThread.get(tid);
    if (e === undefined) perThread.set(tid, e = { holds: [] });
    return e;
  };
  const facts = [...ctx.registers].map(([tid, r]) => ({ tid, fsBase: r.fsBase }));
  const idents = threadIdents(ctx);
  const tidOfIdent = (ident: bigint | undefined) =>
    ident === undefined || ident === 0n ? undefined : idents.get(BigInt.asUintN(64, ident));
  const gils = findGils(ctx, warnings);
  const objects = new FrameObjects(ctx.mem, ctx.rt);
  // Frames are read only as far as needed (the pause stays short): a waiter's newest frames to
  // match the lock it sleeps on; every frame of every thread only once some thread waits for a
  // plain Lock, whose holder must be inferred from the other threads' frames.
  const live = ctx.threads.filter((t) => t.tid !== 0);
  let everyFrame: Map<PyThread, ThreadObjects> | undefined;
  // Only slots known to be in use: a stale one could name a lock the thread never touched.
  const scanned = () =>
    everyFrame ??= new Map(live.map((t) => [t, objects.scan(t.frames, "live")]));
  const selfOf = (t: PyThread, frame: number) => {
    const f = t.frames[frame];
    return f === undefined ? 0n : objects.slots(f)[0] ?? 0n;
  };
  /**
   * The lock a thread blocked in `Condition.wait()` has let go of (the condition's `_lock`):
   * its `with` block around the wait does not mean it holds the lock now.
   */
  const releasedLocks = new Map<number, bigint | undefined>();
  const released = (t: PyThread): bigint | undefined => {
    if (releasedLocks.has(t.tid)) return releasedLocks.get(t.tid);
    let lock: bigint | undefined;
    // In any call, or between two (2.7's timed wait polls with sleeps): the lock is let go of
    // just after the wait starts, and a thread caught before that is left unknown, not named.
    if (inConditionWait(t.frames)) {
      const condition = selfOf(t, t.frames.length - 1);
      const name = ctx.rt.values?.py2 ? "_Condition__lock" : "_lock";
      lock = condition === 0n ? undefined : objects.dicts.attribute(condition, name, objects.types);
    }
    releasedLocks.set(t.tid, lock);
    return lock;
  };

  // The system call of every thread.
  for (const [tid, regs] of ctx.registers) {
    const call = syscallOf(regs);
    if (call === undefined) continue;
    const what = call.fd === undefined ? undefined : ctx.describeFd?.(call.fd);
    entry(tid).syscall = {
      number: call.number,
      name: call.name,
      text: describeSyscall(call, what),
    };
  }

  // Lock objects: who waits for which (matched by the futex), and who is inside `with`.
  const waitsOn = new Map<number, LockObject>();
  /** A lock's global name, by its address (undefined: it has none). */
  const names = new Map<bigint, string | undefined>();
  const futexOf = (tid: number) => {
    const regs = ctx.registers.get(tid);
    return regs === undefined ? undefined : futexWaitOf(regs);
  };
  for (const t of live) {
    const futex = futexOf(t.tid);
    if (futex === undefined || pythonWaitOf(t.frames) !== undefined) continue;
    const seen = objects.scan(t.frames.slice(-WAITER_FRAMES));
    // A parked waiter (3.13+) sleeps on a `wait_entry` on its stack that names what it waits for.
    const parked = objects.word(futex.address - 8n);
    for (const address of seen.locks) {
      const lock = objects.locks.get(address)!;
      const inner = lock.block === undefined ? undefined : objects.lockAt(lock.block);
      const target = inner ?? lock;
      const match = (target.sem !== undefined && target.sem === futex.address) ||
        (target.mutex !== 0n && parked === target.mutex);
      if (match) {
        waitsOn.set(t.tid, lock);
        break;
      }
    }
  }

  for (const t of ctx.threads) {
    if (t.tid === 0) continue;
    const e = entry(t.tid);
    const wait = waitOf(t);
    if (wait !== undefined) e.waitingFor = wait;
  }

  // Non-Python threads: the native rules only.
  const python = new Set(ctx.threads.map((t) => t.tid));
  for (const tid of ctx.registers.keys()) {
    if (python.has(tid)) continue;
    const wait = nativeWait(tid);
    if (wait !== undefined) entry(tid).waitingFor = wait;
  }

  // What each thread holds.
  for (const gil of gils) {
    if (gil.holderTid !== undefined && gil.holderTid !== 0) {
      entry(gil.holderTid).holds.push({
        kind: "gil",
        resource: gilName(gil, gils),
        address: gil.address,
        confidence: "recorded",
      });
    }
  }
  for (const lock of objects.locks.values()) {
    if (lock.kind === "lock") continue;
    const tid = tidOfIdent(lock.owner);
    if (tid === undefined) continue;
    entry(tid).holds.push({
      kind: "rlock",
      resource: lockName(lock, nameOf(lock)),
      address: lock.address,
      ...(lock.count === undefined ? {} : { count: lock.count }),
      confidence: "recorded",
    });
  }
  for (const [t, seen] of everyFrame ?? []) {
    for (const address of seen.withBlocks) {
      const lock = objects.locks.get(address);
      if (lock === undefined || lock.kind !== "lock" || lock.locked === false) continue;
      if (waitsOn.get(t.tid)?.address === address || released(t) === address) continue;
      entry(t.tid).holds.push({
        kind: "lock",
        resource: lockName(lock, nameOf(lock)),
        address,
        confidence: "inferred",
      });
    }
  }
  return { perThread, warnings };

  function nameOf(lock: LockObject): string | undefined {
    if (names.has(lock.address)) return names.get(lock.address);
    let found: string | undefined;
    search: for (const t of ctx.threads) {
      for (let i = t.frames.length - 1; i >= 0; i--) {
        found = objects.globalName(t.frames[i]!, lock.address);
        if (found !== undefined) break search;
      }
    }
    names.set(lock.address, found);
    return found;
  }

  function waitOf(t: PyThread): LockWait | undefined {
    const futex = futexOf(t.tid);
    const call = ctx.registers.get(t.tid);
    // The standard library's own waits first: they sleep on a lock of their own.
    const py = call === undefined || futex === undefined ? undefined : pythonWaitOf(t.frames);
    if (py !== undefined) {
      const self = selfOf(t, py.frame);
      switch (py.kind) {
        case "thread_join":
          return joinWait(self);
        case "import_lock":
          return importWait(self);
        case "future":
          return futureWait(t, self);
        case "condition":
          return {
            kind: "condition",
            resource: py.what,
            evidence: "no thread owns a notification: any thread may call notify()",
          };
      }
    }
    const lock = waitsOn.get(t.tid);
    if (lock !== undefined) return lockWait(t, lock);
    if (futex === undefined) return undefined;
    return nativeWait(t.tid);
  }

  function nativeWait(tid: number): LockWait | undefined {
    const futex = futexOf(tid);
    if (futex === undefined) return undefined;
    const word = objects.word(futex.address);
    const owner = objects.word(futex.address + MUTEX_OWNER_OFFSET);
    const fact = classifyFutex(futex.address, {
      ...(word === undefined ? {} : { word: Number(word & 0xffffffffn) }),
      ...(owner === undefined ? {} : { owner: Number(BigInt.asIntN(32, owner & 0xffffffffn)) }),
    }, { gils, threads: facts, waiter: tid });
    switch (fact.kind) {
      case "gil": {
        const w: LockWait = {
          kind: "gil",
          resource: gilName(fact.gil, gils),
          address: fact.gil.address,
          evidence: `its futex ${hex(futex.address)} lies in the GIL's condition variable or mutex`,
        };
        if (
          fact.gil.holderTid !== undefined && fact.gil.holderTid !== 0 && fact.gil.holderTid !== tid
        ) {
          w.holder = fact.gil.holderTid;
          w.confidence = "recorded";
        }
        return w;
      }
      case "gil_handover":
        return {
          kind: "gil_handover",
          resource: `handing ${gilName(fact.gil, gils)} over`,
          address: fact.gil.address,
          evidence: "it dropped the GIL and waits for another thread to take it",
        };
      case "pthread_join":
        return {
          kind: "pthread_join",
          resource: `pthread_join() of thread ${fact.tid}`,
          holder: fact.tid,
          confidence: fact.exact ? "recorded" : "inferred",
          evidence: fact.exact
            ? `its futex is the thread id field of thread ${fact.tid}'s struct pthread`
            : `inferred: its futex lies in thread ${fact.tid}'s struct pthread`,
        };
      case "pthread_mutex": {
        const w: LockWait = {
          kind: "pthread_mutex",
          resource: `pthread mutex ${hex(futex.address)}`,
          address: futex.address,
          evidence: fact.ownerTid === undefined
            ? `owner unknown: the mutex names ${fact.ownerRaw}, not a thread of this process`
            : "owner recorded in the mutex",
        };
        if (fact.ownerTid !== undefined && fact.ownerTid !== tid) {
          w.holder = fact.ownerTid;
          w.confidence = "recorded";
        }
        return w;
      }
      case "unknown":
        return {
          kind: "futex",
          resource: `futex ${hex(futex.address)}`,
          address: futex.address,
          evidence: "owner unknown: not a GIL, a pthread mutex or a lock its frames refer to " +
            "(a semaphore or condition variable has no owner)",
        };
    }
  }

  function lockWait(t: PyThread, lock: LockObject): LockWait {
    const name = nameOf(lock);
    const w: LockWait = {
      kind: lock.kind === "lock" ? "lock" : "rlock",
      resource: lockName(lock, name),
      address: lock.address,
      evidence: "",
    };
    if (lock.kind !== "lock") {
      const owner = tidOfIdent(lock.owner);
      if (owner !== undefined && owner !== t.tid) {
        w.holder = owner;
        w.confidence = "recorded";
        w.evidence = "owner recorded in the RLock";
      } else {
        w.evidence = lock.owner === 0n
          ? "owner unknown: the RLock records no owner (being released)"
          : `owner unknown: the RLock names thread ident ${
            hex(lock.owner ?? 0n)
          }, not a thread here`;
      }
      return w;
    }
    const label = name === undefined ? "with" : `with ${name}:`;
    // Its own `with` block (entered, not the one it is entering): a Lock is not re-entrant.
    if (
      lock.locked !== false && released(t) !== lock.address &&
      objects.scan(t.frames, "entered").withBlocks.has(lock.address)
    ) {
      w.holder = t.tid;
      w.confidence = "inferred";
      w.evidence = `inferred: it is inside its own '${label}' block, and a Lock is not ` +
        "re-entrant: it waits for itself";
      return w;
    }
    const others = [...scanned()].filter(([o]) =>
      o.tid !== t.tid && waitsOn.get(o.tid)?.address !== lock.address &&
      released(o) !== lock.address
    );
    const inside = others.filter(([, s]) => s.withBlocks.has(lock.address));
    if (inside.length === 1) {
      w.holder = inside[0]![0].tid;
      w.confidence = "inferred";
      w.evidence = `inferred: inside its '${label}' block (a Lock records no owner)`;
      return w;
    }
    const referencing = others.filter(([, s]) => s.locks.has(lock.address));
    if (inside.length === 0 && referencing.length === 1) {
      w.holder = referencing[0]![0].tid;
      w.confidence = "inferred";
      w.evidence = "inferred: the only other thread whose frames refer to the lock " +
        "(a Lock records no owner)";
      return w;
    }
    w.evidence = inside.length > 1
      ? `owner unknown: threads ${
        inside.map(([o]) => o.tid).join(", ")
      } are all inside its 'with' block`
      : `owner unknown: a Lock records no owner, and no other thread's frames show it held` +
        (lock.locked === false ? " (it is not locked now)" : "");
    return w;
  }

  function joinWait(thread: bigint): LockWait {
    const ident = objects.intAttribute(thread, ctx.rt.values?.py2 ? "_Thread__ident" : "_ident");
    const name = objects.strAttribute(thread, ctx.rt.values?.py2 ? "_Thread__name" : "_name");
    const tid = tidOfIdent(ident);
    const w: LockWait = {
      kind: "thread_join",
      resource: `Thread.join() of ${name === undefined ? "a thread" : `'${name}'`}`,
      evidence: "",
    };
    if (thread !== 0n) w.address = thread;
    if (tid !== undefined) {
      w.holder = tid;
      w.confidence = "recorded";
      w.evidence = "the Thread object records its thread ident";
    } else {
      w.evidence = "thread unknown: its ident is not a thread of this process (finished?)";
    }
    return w;
  }

  function importWait(moduleLock: bigint): LockWait {
    const name = objects.strAttribute(moduleLock, "name");
    const owner = tidOfIdent(objects.intAttribute(moduleLock, "owner"));
    const w: LockWait = {
      kind: "import_lock",
      resource: `the import lock of module ${name === undefined ? "?" : `'${name}'`}`,
      evidence: "",
    };
    if (moduleLock !== 0n) w.address = moduleLock;
    if (owner !== undefined) {
      w.holder = owner;
      w.confidence = "recorded";
      w.evidence = "owner recorded in the module lock";
    } else {
      w.evidence = "owner unknown: the module lock names no thread of this process";
    }
    return w;
  }

  function futureWait(t: PyThread, future: bigint): LockWait {
    const w: LockWait = {
      kind: "future",
      resource: `concurrent.futures.Future ${hex(future)}`,
      address: future,
      evidence: "",
    };
    // The worker running it has `_WorkItem.run()` with `self.future` being it.
    const workers: PyThread[] = [];
    for (const o of live) {
      o.frames.forEach((f, i) => {
        if (f.function === "_worker" && f.file.endsWith("concurrent/futures/thread.py")) {
          if (!workers.includes(o)) workers.push(o);
        }
        if (f.function !== "run" || !f.file.endsWith("concurrent/futures/thread.py")) return;
        const item = selfOf(o, i);
        if (item !== 0n && objects.attribute(item, "future") === future && o !== t) {
          w.holder = o.tid;
          w.confidence = "recorded";
          w.evidence = "the worker running it (its _WorkItem names this future)";
        }
      });
    }
    if (w.holder !== undefined) return w;
    const state = objects.strAttribute(future, "_state");
    const busy = workers.filter((o) => o.tid === t.tid || futexOf(o.tid) !== undefined);
    if (state === "PENDING" && workers.length > 0 && busy.length === workers.length) {
      w.resource += " (queued: every worker of the pool is busy)";
      if (workers.length === 1) {
        w.holder = workers[0]!.tid;
        w.confidence = "inferred";
        w.evidence = "inferred: not started, and the pool's only worker is blocked";
        return w;
      }
      w.evidence = `no owner: not started; workers ${workers.map((o) => o.tid).join(", ")} ` +
        "are all blocked";
      return w;
    }
    w.evidence = `no worker runs it${state === undefined ? "" : ` (state ${state})`}`;
    return w;
  }
}

/** `threading.Lock 0x7f… (lock_x)`. */
function lockName(lock: LockObject, name: string | undefined): string {
  const type = lock.kind === "lock"
    ? "threading.Lock"
    : lock.kind === "rlock"
    ? "threading.RLock"
    : "threading._RLock";
  return `${type} ${hex(lock.address)}${name === undefined ? "" : ` (${name})`}`;
}

function gilName(gil: GilRegion, gils: readonly GilRegion[]): string {
  if (gils.length <= 1) return "the GIL";
  return `the GIL of interpreter ${gil.interpreterIds.join(", ")}`;
}

/** Thread ident (`pthread_t`, `tstate->thread_id`) → OS thread id. */
function threadIdents(ctx: LocksContext): Map<bigint, number> {
  const out = new Map<bigint, number>();
  for (const [tid, r] of ctx.registers) if (r.fsBase !== 0n) out.set(r.fsBase, tid);
  const layout = ctx.rt.layout.structs.thread;
  if (layout === undefined) return out;
  for (const t of ctx.threads) {
    if (t.tid === 0) continue;
    const states = t.interpreters?.map((p) => p.threadStateAddress) ?? [t.threadStateAddress];
    for (const address of states) {
      try {
        const ident = readStruct(ctx.mem, address, layout).ptr("thread_id");
        if (ident !== 0n) out.set(BigInt.asUintN(64, ident), t.tid);
      } catch (e) {
        rethrowFatal(e);
      }
    }
  }
  return out;
}

/** Every GIL of the process (one per interpreter that owns one, 3.12+), with its holder. */
function findGils(ctx: LocksContext, warnings: string[]): GilRegion[] {
  const { mem, rt } = ctx;
  const holderOf = (tstate: bigint) =>
    ctx.threads.find((t) =>
      t.threadStateAddress === tstate ||
      t.interpreters?.some((p) => p.threadStateAddress === tstate)
    )?.tid;
  const holding = ctx.threads.find((t) => t.holdsGil === true)?.tid;
  const unknownHolder = ctx.threads.some((t) => t.holdsGil === undefined);
  const fallbackHolder = holding ?? (unknownHolder ? undefined : 0);
  try {
    switch (rt.gilRule) {
      case "gil_struct": {
        const layout = rt.layout.structs.gil;
        const interpLayout = rt.layout.structs.interp;
        if (layout === undefined || interpLayout === undefined) return [];
        const byAddress = new Map<bigint, GilRegion>();
        for (const info of ctx.interpreters) {
          let gil = 0n;
          try {
            gil = readStruct(mem, info.address, interpLayout).ptr("ceval_gil");
          } catch (e) {
            rethrowFatal(e);
          }
          if (gil === 0n) continue;
          const known = byAddress.get(gil);
          if (known !== undefined) {
            known.interpreterIds.push(info.id);
            continue;
          }
          const g = readStruct(mem, gil, layout);
          if (g.has("enabled") && g.int("enabled") === 0) continue;
          const holder = g.int("locked") === 1 ? holderOf(g.ptr("last_holder")) : 0;
          byAddress.set(
            gil,
            gilRegion(gil, layout.fields.locked!.offset, {
              interpreterIds: [info.id],
              holderTid: holder,
            }),
          );
        }
        return [...byAddress.values()];
      }
      case "runtime_tstate_current": {
        // 3.7 to 3.11: `_PyRuntime.ceval.gil` ends where `gilstate` begins
        // (`{int check_enabled; tstate_current; …}`).
        const field = rt.layout.structs.runtime?.fields.gilstate_tstate_current;
        if (ctx.runtime === undefined || field === undefined) return [];
        const gil = ctx.runtime + BigInt(field.offset) - 8n - GIL_SIZE;
        const head = new DataView(mem.read(gil, 24).buffer);
        const interval = head.getBigUint64(0, true);
        const locked = head.getInt32(16, true);
        if (interval === 0n || interval > 1_000_000_000n || locked < -1 || locked > 1) {
          warnings.push(`--locks: no GIL found at ${hex(gil)}; waits for the GIL are not shown`);
          return [];
        }
        return [gilRegion(gil, 16, { interpreterIds: [0], holderTid: fallbackHolder })];
      }
      case "tstate_current_symbol": {
        // 3.6: static `gil_cond` and `gil_mutex`; 2.7: `interpreter_lock`, a `sem_t *`. Named
        // only in `.symtab`.
        const cond = ctx.symbols.get("gil_cond");
        const mutex = ctx.symbols.get("gil_mutex");
        const lock = ctx.symbols.get("interpreter_lock");
        if (lock !== undefined && (cond === undefined || mutex === undefined)) {
          const sem = new DataView(mem.read(lock, 8).buffer).getBigUint64(0, true);
          if (sem === 0n) return [];
          return [{
            address: sem,
            wait: [sem, sem + 32n],
            handover: [0n, 0n],
            interpreterIds: [0],
            holderTid: fallbackHolder,
          }];
        }
        if (cond === undefined || mutex === undefined) {
          warnings.push(
            "--locks: the GIL's symbols are not in this build; " +
              "waits for the GIL are not shown",
          );
          return [];
        }
        const start = cond < mutex ? cond : mutex;
        const end = cond < mutex ? mutex + 40n : cond + 48n;
        return [{
          address: start,
          wait: [start, end],
          handover: [0n, 0n],
          interpreterIds: [0],
          holderTid: fallbackHolder,
        }];
      }
    }
  } catch (e) {
    rethrowFatal(e);
    warnings.push(`--locks: the GIL is unreadable: ${(e as Error).message}`);
    return [];
  }
}
