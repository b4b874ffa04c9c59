"""The app's button and LED: machine.Pin at a pin number, or on the virtual board a file on its
flash (a folder on the host) named "file:/button" where a pin number goes: a button reads 0
(pressed, as a pulled-up pin to ground) while the file holds "0", else 1; an LED writes "1" or
"0" to its file. Imported only by a profile that has a button or an LED."""


def pin(number, out):
    """A button (out=False: input, pulled up, pressed reads 0) or an LED (out=True) at a pin
    number, or on the virtual board a file ("file:/button"); None for None."""
    if number is None:
        return None
    if isinstance(number, str) and number.startswith("file:"):
        return FilePin(number[5:], out)
    from machine import Pin
    return Pin(number, Pin.OUT) if out else Pin(number, Pin.IN, Pin.PULL_UP)


class FilePin:
    def __init__(self, path, out):
        self.path = path
        self.out = out
        if out:
            self.value(0)

    def value(self, v=None):
        if v is None:
            try:
                with open(self.path) as f:
                    return 0 if f.read(1) == "0" else 1
            except OSError:
                return 1  # no file: a button not pressed, an LED never lit
        with open(self.path, "w") as f:
            f.write("1" if v else "0")

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)
