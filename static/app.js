// The page's entry point: take the teacher key if the URL carries one
// (teacher.js), measure the clock against the server's, start one
// real client per technique (lanes/*.js), each reporting to its lane
// (lane.js, drawn by timeline.js), and keep the figures (figures.js) and
// charts (charts.js, comparison.js) moving. The knobs are in controls.js,
// the six connections (tabs, queue) in tabs.js, the shared broker's line in
// broker.js, the one spoken summary in announce.js, the messages this tab
// published, followed through every lane, in mine.js; screen.js makes the
// lanes end at the bottom of the screen; wire.js shows this tab's exchanges
// byte for byte; faults.js lets a student break their own lanes (and the
// teacher restart the hub); protocol.js shows which HTTP each lane runs on.

import { Clock } from "./clock.js";
import { Lane } from "./lane.js";
import { Figures } from "./figures.js";
import { Comparison } from "./comparison.js";
import { readSettings, wireControls } from "./controls.js";
import { watchTabs } from "./tabs.js";
import { teacherKey, role } from "./teacher.js";
import { showBroker } from "./broker.js";
import { strip } from "./charts.js";
import { announce } from "./announce.js";
import { attach as followYourMessages } from "./mine.js";
import { fillTheScreen } from "./screen.js";
import { attach as attachWire } from "./wire.js";
import { attach as attachFaults } from "./faults.js";
import { NAMES } from "./techniques.js";
import { showProtocols } from "./protocol.js";

// The latency strip under each lane shows this much history.
const STRIP_WINDOW_MS = 60000;
// Strips are redrawn at most this often, not at every frame.
const STRIP_EVERY_MS = 250;

// First, so that even a tab that gets no connection to the server says why.
let lanes = null;
watchTabs(document.querySelector('[data-notice="tabs"]'), () => {
  lanes?.longpoll.pause();
  lanes?.sse.pause();
});

fillTheScreen(document.querySelector("main.lanes"));

const key = teacherKey();
const clock = await Clock.measure();
clock.show(document.querySelector("[data-clock]"));

const settings = readSettings();
// One lane per technique, each run by its client in lanes/<name>.js.
lanes = Object.fromEntries(NAMES.map((name) => [name, new Lane(name, clock)]));
const clients = await Promise.all(NAMES.map((name) => import(`./lanes/${name}.js`)));
NAMES.forEach((name, i) => clients[i].run(lanes[name], settings));

announce(document.querySelector("[data-announce]"), lanes);
showProtocols(lanes);
followYourMessages(document.querySelector("[data-your-messages]"), lanes);

const figures = new Figures(lanes, document.querySelector('[data-notice="stalled"]'));
const comparison = new Comparison(lanes, figures);
const brokerLine = document.querySelector("[data-broker]");
const roleNow = await role(key);
const follow = wireControls({ lanes, figures, comparison, settings, key, role: roleNow });
attachWire(document.querySelector("[data-wire-panel]"), lanes);
attachFaults(lanes, { key, role: roleNow });
figures.onRefresh = () => {
  comparison.draw();
  showBroker(brokerLine, figures.latest);
  follow(figures.latest);
};
figures.run();

let stripsDrawn = 0;
function animate(now) {
  for (const lane of Object.values(lanes)) lane.timeline.frame();
  if (now - stripsDrawn >= STRIP_EVERY_MS) {
    stripsDrawn = now;
    for (const lane of Object.values(lanes)) {
      strip(lane.root.querySelector(".strip"), lane.samples, performance.now(), STRIP_WINDOW_MS);
    }
  }
  requestAnimationFrame(animate);
}
requestAnimationFrame(animate);
