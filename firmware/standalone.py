"""Run on boot without a computer: live classification or anomaly watch, as /board.json says.

/main.py (installed by `tinyenroll flash`) calls run(). The 'app' section of /board.json
chooses: "autostart": "live" | "watch" | "off" (default off); "button": a pin (pulled up,
pressed = 0): a press enrolls the next take as "button"; "led": a pin lit while it runs (on the
virtual board both can be files: "file:/button", "file:/led").
Ctrl-C at any time ends run() and leaves the REPL to the user; so does an error, after one
line saying what it was.
"""


import time


def run():
    try:
        from . import app
        if app.cfg is None:
            return  # app's banner already said what is missing
        mode = app.cfg.get("app", {}).get("autostart", "off")
        if mode == "off":
            return
        from .sensors.pins import pin
        led = pin(app.cfg["app"].get("led"), True)
        button = pin(app.cfg["app"].get("button"), False)
        pressed = (lambda: not button.value()) if button is not None else None
        print("standalone: %s (Ctrl-C for the REPL)" % mode)
        if led is not None:
            led.on()
        try:
            while True:
                if mode == "watch":
                    app.watch(until=pressed)
                else:
                    app.live(until=pressed)
                if pressed is None or not pressed():
                    return  # stopped by Ctrl-C inside live/watch
                app.enroll("button", n=1, countdown=1)
                while pressed():  # held down: one take per press
                    time.sleep(0.02)
        finally:
            if led is not None:
                led.off()
    except KeyboardInterrupt:
        print("standalone stopped: REPL")
    except Exception as e:
        print("standalone stopped: %s" % (e,))
