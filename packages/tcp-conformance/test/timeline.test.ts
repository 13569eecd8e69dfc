import { describe, expect, it } from 'vitest';
import { VirtualClock } from '@morgana/testing';
import { createRealTimeline, createVirtualTimeline } from '../src/index.js';

describe('timelines', () => {
  it('a virtual timeline fires timers one by one and stops as soon as the condition holds', async () => {
    const clock = new VirtualClock();
    const timeline = createVirtualTimeline(clock);
    let fired = 0;
    clock.setTimer(100, () => fired++);
    clock.setTimer(200, () => fired++);
    clock.setTimer(300, () => fired++);
    expect(await timeline.waitUntil(() => fired === 2, 1000)).toBe(true);
    expect(clock.now()).toBe(200);
    expect(await timeline.waitUntil(() => fired === 5, 1000)).toBe(false);
    expect(clock.now()).toBe(1200);
    expect(fired).toBe(3);
  });

  it('a virtual timeline sleeps exactly the time asked, firing what falls due', async () => {
    const clock = new VirtualClock();
    const timeline = createVirtualTimeline(clock);
    let fired = false;
    clock.setTimer(50, () => (fired = true));
    await timeline.sleep(49);
    expect(fired).toBe(false);
    await timeline.sleep(1);
    expect(fired).toBe(true);
    expect(clock.now()).toBe(50);
  });

  it('a real timeline polls the condition on its clock until it holds or time is up', async () => {
    // A virtual clock driven by hand stands in for real time.
    const clock = new VirtualClock();
    const timeline = createRealTimeline(clock, 5);
    let ready = false;
    let result: boolean | undefined;
    void timeline.waitUntil(() => ready, 100).then((value) => (result = value));
    await clock.run(20);
    expect(result).toBeUndefined();
    ready = true;
    await clock.run(5);
    expect(result).toBe(true);
    let late: boolean | undefined;
    void timeline.waitUntil(() => false, 30).then((value) => (late = value));
    await clock.run(29);
    expect(late).toBeUndefined();
    await clock.run(1);
    expect(late).toBe(false);
  });
});
