// The WakeTimer's alarm on a timerfd (tcpmitm's native addon): a delayed
// segment leaves within tens of microseconds of its deadline instead of up to
// a millisecond later with setTimeout. Falls back to setTimeout where the
// addon is not built (tap mode needs only libpcap).

import { timeoutAlarm, type AlarmFactory } from '../engine/wake-timer.js';
import { loadAfPacket } from './afpacket-addon.js';

export const preciseAlarm: AlarmFactory = (fire) => {
  let native;
  try {
    native = loadAfPacket();
  } catch {
    return timeoutAlarm(fire);
  }
  const handle = native.alarmOpen(fire);
  let open = true;
  return {
    arm(ms) {
      if (open) native.alarmArm(handle, ms * 1000);
    },
    cancel() {
      if (open) native.alarmCancel(handle);
    },
    close() {
      if (!open) return;
      open = false;
      native.alarmClose(handle);
    },
  };
};
