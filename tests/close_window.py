"""Closes an X11 window by its title the way a window manager does: a
WM_DELETE_WINDOW message, which the app sees as the user's close button.
Xvfb runs no window manager, and xdotool 3.2016 can only kill the client.

usage: close_window.py TITLE   (exit 1 when no such window is mapped)
"""
import sys

from Xlib import X, display
from Xlib.protocol import event


def find(win, title):
    """Depth-first: the first mapped window with this WM_NAME."""
    try:
        attrs = win.get_attributes()
        if win.get_wm_name() == title and attrs.map_state == X.IsViewable:
            return win
        children = win.query_tree().children
    except Exception:  # a window that went away while we looked
        return None
    for child in children:
        found = find(child, title)
        if found:
            return found
    return None


def main():
    title = sys.argv[1]
    d = display.Display()
    win = find(d.screen().root, title)
    if win is None:
        print(f"no window titled {title!r}", file=sys.stderr)
        return 1
    protocols = d.intern_atom("WM_PROTOCOLS")
    delete = d.intern_atom("WM_DELETE_WINDOW")
    msg = event.ClientMessage(window=win, client_type=protocols, data=(32, [delete, X.CurrentTime, 0, 0, 0]))
    win.send_event(msg)
    d.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
