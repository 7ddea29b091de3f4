// The lanes end at the bottom of the screen. What stands above them — the
// header, the students' address, notices that come and go — varies, and
// so does what a lane shows besides its dialogue, so both are measured and
// the dialogues get the height that is left, as --dialogue-height for the
// stylesheet (which keeps a minimum). Measured again whenever the page's
// layout changes size.
//
// A stylesheet alone could do it (a grid row of 1fr in lanes as tall as
// the screen), but then every new message in a list re-sizes the whole
// grid: in Chromium that tripled the page's layout time.

export function fillTheScreen(lanes) {
  const dialogue = lanes.querySelector(".timeline");
  const fit = () => {
    const box = lanes.getBoundingClientRect();
    const rest = box.height - dialogue.getBoundingClientRect().height;
    const left = document.documentElement.clientHeight - (box.top + scrollY) - rest;
    const height = `${Math.floor(left)}px`;
    if (document.documentElement.style.getPropertyValue("--dialogue-height") !== height) {
      document.documentElement.style.setProperty("--dialogue-height", height);
    }
  };
  new ResizeObserver(fit).observe(document.body);
  fit();
}
