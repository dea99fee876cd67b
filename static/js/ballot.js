/* The ballot's running count: how many projects are ticked, or what they cost together, as the
   voter ticks them. Only a help: the server checks every ballot, and without this script the
   page works the same. */
(function () {
  "use strict";
  var form = document.querySelector("form.plan-ballot");
  var sum = document.getElementById("ballot-sum");
  if (!form || !sum) { return; }
  var boxes = Array.prototype.slice.call(form.querySelectorAll("input[name=proposal_ids]"));
  var knapsack = form.dataset.rule === "knapsack";
  var limit = Number(form.dataset.limit);
  var most = Number(form.dataset.max);
  var numbers = null;
  try {
    numbers = new Intl.NumberFormat(document.documentElement.lang);
  } catch (error) {
    numbers = null;
  }

  function shown(value) { return numbers ? numbers.format(value) : String(value); }

  function update() {
    var count = 0;
    var total = 0;
    boxes.forEach(function (box) {
      if (box.checked) {
        count += 1;
        total += Number(box.dataset.cost) || 0;
      }
    });
    var over = knapsack ? total > limit : count > most;
    var text = (knapsack ? sum.dataset.sum : sum.dataset.count)
      .replace("{total}", shown(total)).replace("{count}", shown(count));
    sum.textContent = over ? text + " " + sum.dataset.over : text;
    sum.classList.toggle("plan-sum-over", over);
  }

  sum.hidden = false;
  boxes.forEach(function (box) { box.addEventListener("change", update); });
  update();
})();
