/** The xenbus device states (xen/include/public/io/xenbus.h `enum xenbus_state`), as written to `<dev>/state`. */
export const XenbusState = {
  Unknown: 0,
  Initialising: 1,
  /** The back end waits for the front end's details (hotplug done). */
  InitWait: 2,
  /** The front end has written its ring references and event channel. */
  Initialised: 3,
  Connected: 4,
  /** The device is being torn down. */
  Closing: 5,
  Closed: 6,
  Reconfiguring: 7,
  Reconfigured: 8,
} as const;
export type XenbusState = (typeof XenbusState)[keyof typeof XenbusState];

/** Parses a `state` node's text; anything but a known integer is `Unknown`. */
export function parseXenbusState(text: string): XenbusState {
  const value = /^\d$/.test(text.trim()) ? Number(text.trim()) : 0;
  return (value <= 8 ? value : 0) as XenbusState;
}
