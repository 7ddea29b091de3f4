// Below the lanes, the four techniques in one picture each: how fast the
// messages arrived in this browser (a cumulative distribution: the further
// left and the steeper, the better; live deliveries only — a catch-up
// after a pause measures the pause, see lane.js), and what one delivered
// message cost on the wire for the whole class (the server's counters:
// both directions, headers and framing included, divided by the messages
// delivered). The charts name the techniques briefly, so that their words
// fit beside the plots in large type; each lane's colour ties them to the
// lanes. Below them, the crossover (crossover.js): what one message cost
// each technique at every rate the generator held during this run.

import { bars, cdf } from "./charts.js";
import { Crossover } from "./crossover.js";
import { SHORT_NAME } from "./techniques.js";


export class Comparison {
  constructor(lanes, figures) {
    this.lanes = Object.values(lanes);
    this.figures = figures;
    this.latency = document.querySelector('[data-chart="cdf"]');
    this.bytes = document.querySelector('[data-chart="bytes"]');
    this.crossover = new Crossover(document.querySelector('[data-chart="crossover"]'), lanes, figures);
  }

  draw() {
    cdf(
      this.latency,
      this.lanes.map((lane) => ({ name: lane.name, label: SHORT_NAME[lane.name], values: lane.samples.filter((s) => !s.backlog).map((s) => s.ms) })),
    );
    bars(
      this.bytes,
      this.lanes.map((lane) => {
        const value = this.figures.bytesPerMessage(lane.name);
        return { name: lane.name, label: SHORT_NAME[lane.name], value, text: value === null ? "" : `${value.toFixed(0)} B` };
      }),
    );
    // Called after every refresh of the figures, and after a reset: the
    // crossover takes in a snapshot only when there is a new one.
    this.crossover.update();
    this.crossover.draw();
  }
}
