#!/usr/bin/env python3
"""Seeded procedural generator of simple English short stories (the demo model's training data).

Every story is one line of plain ASCII text, written in the past tense, with consistent names and
pronouns. Stories are built from a cast (names, animals, parents), a setting (places, objects,
colours, weather) and one of several plot templates; each sentence has several phrasings so the
model has to learn grammar rather than memorise a few lines.

Usage: corpus.py --seed 1234 --stories 12000 --out corpus.txt
The output depends only on the seed and the story count (Python's `random.Random` is stable).
"""
import argparse
import random

GIRL_NAMES = ["Lily", "Mia", "Emma", "Sara", "Anna", "Lucy", "Zoe", "Ella", "Amy", "Rosa",
              "Nora", "Ivy", "Kate", "Maya", "Jane", "Ruby", "Molly", "Daisy", "Sophie", "Hannah"]
BOY_NAMES = ["Tom", "Max", "Ben", "Sam", "Leo", "Jack", "Tim", "Finn", "Jake", "Noah",
             "Ryan", "Oscar", "Peter", "Luke", "Adam", "Hugo", "Eli", "Owen", "Theo", "Danny"]
ANIMALS = ["dog", "cat", "bird", "rabbit", "bear", "fox", "mouse", "duck", "frog", "lion",
           "puppy", "kitten", "owl", "pig", "horse", "squirrel", "turtle", "elephant", "monkey"]
KID_KINDS = {"she": "girl", "he": "boy"}
TRAITS = ["little", "small", "happy", "kind", "brave", "shy", "curious", "friendly", "silly",
          "clever", "gentle", "funny"]
PLACES = ["the park", "the garden", "the forest", "the beach", "the farm", "the meadow",
          "the yard", "the big hill", "the river", "the lake", "the playground", "the woods"]
INDOOR = ["the house", "the kitchen", "the living room", "the big room"]
OBJECTS = ["ball", "kite", "hat", "box", "toy car", "book", "boat", "balloon", "drum", "cup",
           "scarf", "bucket", "shoe", "doll", "truck", "block", "rock", "shell", "bell", "flag"]
COLOURS = ["red", "blue", "green", "yellow", "pink", "purple", "orange", "white", "brown",
           "black", "shiny", "bright"]
HIDE_SPOTS = ["under a big tree", "behind a rock", "in the tall grass", "under a bush",
              "next to the fence", "under the bench", "behind a flower pot", "in a hole",
              "near the old wall", "under some leaves"]
GAMES = ["tag", "hide and seek", "catch", "a game with a ball", "chase"]
FOODS = ["a cake", "cookies", "a pie", "bread", "soup", "pancakes", "a sandwich"]
FRUITS = ["apples", "berries", "pears", "cherries", "plums"]
FEARS = [("the dark", "it was dark and quiet"), ("the water", "the water was deep and cold"),
         ("the big slide", "the slide was very tall"), ("the thunder", "the thunder was loud"),
         ("the big dog next door", "the dog barked very loud")]
WANTS_DONE = ["fly the kite", "build a sandcastle", "see the ducks", "pick flowers",
              "climb the hill", "have a picnic", "look for shells", "ride the swing"]


class Person:
    """One character: a name, a kind ("girl", "dog", ...) and pronouns that agree with it."""

    def __init__(self, rng, used):
        self.gender = rng.choice(["she", "he"])
        pool = GIRL_NAMES if self.gender == "she" else BOY_NAMES
        self.name = rng.choice([n for n in pool if n not in used])
        used.add(self.name)
        self.kind = KID_KINDS[self.gender] if rng.random() < 0.55 else rng.choice(ANIMALS)
        self.trait = rng.choice(TRAITS)
        self.sub = self.gender                       # she / he
        self.obj = "her" if self.gender == "she" else "him"
        self.pos = "her" if self.gender == "she" else "his"
        self.parent = rng.choice(["mom", "dad"])

    @property
    def Sub(self):
        return self.sub.capitalize()

    @property
    def Pos(self):
        return self.pos.capitalize()

    def a_kind(self):
        return article(self.trait) + " " + self.trait + " " + self.kind


AT = {"the beach": "at the beach", "the farm": "on the farm", "the big hill": "on the big hill",
      "the river": "by the river", "the lake": "by the lake", "the playground": "at the playground"}


def at(place):
    """The place with the preposition that fits it ("in the park", "on the farm")."""
    return AT.get(place, "in " + place)


def article(word):
    return "an" if word[0] in "aeiou" else "a"


def a(word):
    return article(word) + " " + word


class Story:
    """Collects sentences; `say` picks one phrasing at random."""

    def __init__(self, rng):
        self.rng = rng
        self.parts = []

    def say(self, *options):
        self.parts.append(self.rng.choice(options))

    def pick(self, seq):
        return self.rng.choice(seq)

    def text(self):
        return " ".join(self.parts)


def opening(s, p, place):
    s.say(f"Once upon a time, there was {p.a_kind()} named {p.name}.",
          f"Once upon a time, there was {p.a_kind()} called {p.name}.",
          f"One day, {a(p.trait)} {p.kind} named {p.name} went to {place}.",
          f"There was once {p.a_kind()} named {p.name}.",
          f"{p.name} was {p.a_kind()}.")
    s.say(f"{p.Sub} liked to play {at(place)}.",
          f"{p.Sub} loved to play {at(place)} every day.",
          f"{p.name} liked to run and jump {at(place)}.",
          f"Every day, {p.name} went to {place} to play.",
          f"{p.Sub} was very {p.trait} and liked to play with {p.pos} friends.")


def ending(s, p, q=None):
    if q is None:
        s.say(f"{p.name} was very happy.", f"From that day on, {p.name} was never sad again.",
              f"{p.name} smiled and went home.", f"It was the best day ever.",
              f"{p.Sub} went home and told {p.pos} {p.parent} all about it.")
    else:
        s.say(f"{p.name} and {q.name} were very happy.",
              f"From that day on, {p.name} and {q.name} were best friends.",
              f"They played together until the sun went down.",
              f"{p.name} and {q.name} smiled. It was the best day ever.",
              f"Then they went home, tired and happy.")


def plot_lost_object(s, p, q, place):
    colour, obj, spot = s.pick(COLOURS), s.pick(OBJECTS), s.pick(HIDE_SPOTS)
    s.say(f"{p.name} had {a(colour)} {obj}.", f"{p.Sub} had a {colour} {obj} that {p.sub} loved.",
          f"{p.Pos} favorite toy was {a(colour)} {obj}.")
    s.say(f"One day, {p.name} could not find {p.pos} {obj}.",
          f"One day, {p.name} lost {p.pos} {colour} {obj} {at(place)}.",
          f"But one day, the {obj} was gone.")
    s.say(f"{p.Sub} was very sad and started to cry.", f"{p.name} felt sad.",
          f"{p.Sub} looked everywhere, but {p.sub} could not find it.")
    s.say(f"Then {p.pos} friend {q.name} the {q.kind} came by.",
          f"Just then, {q.name} the {q.kind} came to help.",
          f"{p.Pos} friend {q.name} saw {p.obj} and came over.")
    s.say(f"\"Why are you sad, {p.name}?\" asked {q.name}.",
          f"\"What is wrong?\" {q.name} asked.", f"{q.name} asked, \"Why are you crying?\"")
    s.say(f"\"I lost my {obj},\" said {p.name}.", f"\"I can not find my {colour} {obj},\" {p.name} said.",
          f"{p.name} said, \"My {obj} is gone.\"")
    s.say(f"\"I will help you,\" said {q.name}.", f"\"Let's look for it together,\" said {q.name}.",
          f"{q.name} said, \"Don't be sad. I will help you find it.\"")
    s.say(f"They looked and looked. At last, {q.name} found the {obj} {spot}.",
          f"They looked everywhere. Then {q.name} saw something {colour} {spot}. It was the {obj}!",
          f"{q.name} looked {spot} and found the {obj}.")
    s.say(f"{p.name} was so happy. \"Thank you, {q.name}!\" {p.sub} said.",
          f"\"Thank you!\" said {p.name}. {p.Sub} gave {q.name} a big hug.",
          f"{p.name} smiled and thanked {q.name}.")
    ending(s, p, q)


def plot_new_friend(s, p, q, place):
    s.say(f"One day, {p.name} saw {q.a_kind()} {at(place)}.",
          f"One sunny day, {p.name} met {q.a_kind()} named {q.name}.",
          f"One day, {p.sub} saw a new {q.kind} sitting alone.")
    s.say(f"The {q.kind} looked sad and alone.", f"The {q.kind} was shy and did not say anything.",
          f"The {q.kind} was {q.trait} but did not have any friends.")
    s.say(f"\"Hello, I am {p.name},\" said {p.name}. \"What is your name?\"",
          f"{p.name} walked up and said, \"Hi! What is your name?\"",
          f"\"Hi,\" said {p.name}. \"Do you want to play with me?\"")
    s.say(f"\"My name is {q.name},\" said the {q.kind}.", f"The {q.kind} said, \"I am {q.name}.\"",
          f"\"I am {q.name},\" the {q.kind} said with a smile.")
    game = s.pick(GAMES)
    s.say(f"{p.name} and {q.name} played {game} all day.",
          f"They played {game} and laughed a lot.",
          f"Then they played {game} together. {q.name} was not sad anymore.")
    s.say(f"{q.name} said, \"You are a good friend.\"", f"\"This is fun!\" said {q.name}.",
          f"{q.name} laughed and said, \"Can we play again tomorrow?\"")
    s.say(f"\"Yes!\" said {p.name}.", f"{p.name} said, \"Of course!\"", f"{p.name} nodded and smiled.")
    ending(s, p, q)


def plot_fear(s, p, q, place):
    fear, why = s.pick(FEARS)
    s.say(f"But {p.name} was scared of {fear}.", f"{p.name} was afraid of {fear}.",
          f"There was one thing {p.name} did not like. {p.Sub} was scared of {fear}.")
    s.say(f"{p.Sub} was scared because {why}.", f"{p.Sub} did not like it because {why}.")
    s.say(f"One day, {p.sub} told {p.pos} {p.parent}, \"I am scared.\"",
          f"{p.name} went to {p.pos} {p.parent} and said, \"I am scared of {fear}.\"",
          f"{p.name} hid behind {p.pos} {p.parent}.")
    s.say(f"{p.Pos} {p.parent} gave {p.obj} a hug and said, \"It is okay to be scared. I am here with you.\"",
          f"\"Don't be afraid,\" said {p.pos} {p.parent}. \"You are very brave.\"",
          f"{p.Pos} {p.parent} smiled and said, \"Let's do it together.\"")
    s.say(f"{p.name} took a deep breath.", f"{p.name} held {p.pos} {p.parent}'s hand.",
          f"{p.name} was still a little scared, but {p.sub} tried.")
    s.say(f"Soon, {p.sub} was not scared anymore.", f"It was not so bad after all.",
          f"{p.Sub} saw that {fear} was not so scary.")
    s.say(f"{p.name} felt very brave and proud.", f"\"I did it!\" said {p.name}.",
          f"{p.name} learned that being brave is good.")
    ending(s, p)


def plot_sharing(s, p, q, place):
    colour, obj = s.pick(COLOURS), s.pick(OBJECTS)
    s.say(f"One day, {p.name} got a new {colour} {obj}.", f"{p.name} had a big {colour} {obj}.",
          f"{p.Pos} {p.parent} gave {p.obj} {a(colour)} {obj}.")
    s.say(f"{p.Sub} took it to {place} to play.", f"{p.Sub} played with it all morning.")
    s.say(f"Then {q.name} the {q.kind} came and saw the {obj}.",
          f"{q.name} the {q.kind} saw the {obj} and wanted to play with it too.")
    s.say(f"\"Can I play with your {obj}?\" asked {q.name}.",
          f"{q.name} asked, \"May I have a turn, please?\"")
    s.say(f"At first, {p.name} did not want to share.",
          f"{p.name} said, \"No, it is mine!\" and held the {obj} tight.",
          f"{p.name} thought about it.")
    s.say(f"But then {p.sub} saw that {q.name} was sad.",
          f"Then {p.sub} remembered that sharing is kind.",
          f"{p.name} thought of what {p.pos} {p.parent} said about sharing.")
    s.say(f"\"Here, you can play with it too,\" said {p.name}.",
          f"{p.name} gave the {obj} to {q.name}. \"Let's play together,\" {p.sub} said.")
    s.say(f"{q.name} was very happy.", f"{q.name} smiled and said, \"Thank you, {p.name}!\"")
    s.say(f"They played with the {obj} together and had lots of fun.",
          f"Playing together was more fun than playing alone.")
    s.say(f"{p.name} learned that sharing makes everyone happy.",
          f"{p.name} felt warm inside.", f"Sharing made {p.obj} happy too.")
    ending(s, p, q)


def plot_rain(s, p, q, place):
    want = s.pick(WANTS_DONE)
    s.say(f"One day, {p.name} wanted to go to {place} to {want}.",
          f"{p.name} and {q.name} wanted to {want} {at(place)}.")
    s.say(f"But then it started to rain.", f"But the sky turned gray and it began to rain.",
          f"But big dark clouds came and it rained and rained.")
    s.say(f"{p.name} was sad. \"Now we can not go,\" {p.sub} said.",
          f"\"Oh no!\" said {p.name}. \"I wanted to {want}.\"",
          f"{p.name} looked out of the window and felt sad.")
    room = s.pick(INDOOR)
    s.say(f"{p.Pos} {p.parent} said, \"We can play in {room}.\"",
          f"{q.name} said, \"Let's play inside!\"",
          f"Then {p.name} had an idea.")
    s.say(f"They built a big fort with boxes and blankets.",
          f"They made {FOODS[len(p.name) % len(FOODS)]} together in the kitchen.",
          f"They drew pictures of the sun and the sky.",
          f"They played {s.pick(GAMES)} in {room}.")
    s.say(f"Soon the rain stopped and the sun came out.",
          f"After a while, the rain stopped and they saw a rainbow.",
          f"It was so much fun that they forgot about the rain.")
    s.say(f"{p.name} learned that a rainy day can be fun too.",
          f"\"This was a good day after all,\" said {p.name}.")
    ending(s, p, q)


def plot_help_animal(s, p, q, place):
    kind = s.pick(["bird", "kitten", "puppy", "duck", "squirrel", "bunny"])
    problem, fix = s.pick([
        ("was stuck in a tree", f"{p.name} got a long stick and helped the {kind} down"),
        ("had a hurt leg", f"{p.name} gently put a leaf on its leg"),
        ("was lost and could not find its mom", f"{p.name} helped the {kind} find its mom"),
        ("was stuck in the mud", f"{p.name} pulled the {kind} out of the mud"),
        ("was cold and hungry", f"{p.name} gave the {kind} some food and a warm blanket")])
    s.say(f"One day, {p.name} was walking {at(place)}.", f"One day, {p.name} went for a walk {at(place)}.")
    s.say(f"{p.Sub} heard a small sound.", f"Suddenly, {p.sub} saw a little {kind}.",
          f"{p.Sub} saw something move {s.pick(HIDE_SPOTS)}.")
    s.say(f"It was a little {kind}. The {kind} {problem}.", f"The little {kind} {problem}.")
    s.say(f"\"Poor {kind},\" said {p.name}. \"I will help you.\"",
          f"{p.name} wanted to help the {kind}.", f"{p.name} felt sorry for the {kind}.")
    s.say(f"{fix}.", f"{p.Sub} was very careful. {fix}.")
    s.say(f"The {kind} was happy and said thank you in its own way.",
          f"The {kind} looked at {p.name} and was happy.",
          f"The {kind} was safe now.")
    s.say(f"{p.name} felt proud that {p.sub} helped.", f"Helping the {kind} made {p.name} very happy.",
          f"{p.Pos} {p.parent} said, \"You did a good thing, {p.name}.\"")
    ending(s, p)


def plot_baking(s, p, q, place):
    food = s.pick(FOODS)
    fruit = s.pick(FRUITS)
    s.say(f"One day, {p.name} and {p.pos} {p.parent} wanted to make {food}.",
          f"One morning, {p.pos} {p.parent} said, \"Let's make {food}!\"")
    s.say(f"{p.name} was very excited.", f"\"Yay!\" said {p.name}.")
    s.say(f"First, they went to get some {fruit}.", f"They got flour, milk and {fruit}.")
    s.say(f"{p.name} helped to mix everything in a big bowl.", f"{p.name} mixed and mixed.")
    s.say(f"Oops! {p.name} spilled some flour on the floor.",
          f"Then the bowl fell and made a big mess.",
          f"{p.name} was careful not to make a mess.")
    s.say(f"{p.Pos} {p.parent} laughed and said, \"It is okay. We can clean it up.\"",
          f"They cleaned up together.", f"{p.Pos} {p.parent} said, \"Good job!\"")
    s.say(f"Soon, the kitchen smelled very good.", f"After a while, the food was ready.")
    s.say(f"{p.name} gave some to {q.name} the {q.kind}.",
          f"They shared it with {q.name}, who lived next door.")
    s.say(f"\"Yummy!\" said {q.name}. \"This is so good!\"",
          f"{q.name} said, \"Thank you, {p.name}. It tastes very good.\"")
    ending(s, p, q)


def plot_gift(s, p, q, place):
    colour, obj = s.pick(COLOURS), s.pick(OBJECTS)
    s.say(f"It was {q.name}'s birthday.", f"One day, {p.name} knew it was {q.name}'s birthday soon.")
    s.say(f"{p.name} wanted to give {q.obj} a special gift.",
          f"{p.name} wanted to make {q.name} happy.")
    s.say(f"{p.Sub} did not have much money, so {p.sub} made a {colour} {obj}.",
          f"{p.Sub} found {a(colour)} {obj} and put a bow on it.",
          f"{p.Sub} thought and thought. Then {p.sub} had an idea.")
    s.say(f"{p.Sub} went to {q.name}'s house.", f"{p.name} ran to {place} where {q.name} was.")
    s.say(f"\"Happy birthday, {q.name}!\" said {p.name}.",
          f"{p.name} said, \"This is for you, {q.name}. Happy birthday!\"")
    s.say(f"{q.name} opened the gift. It was {a(colour)} {obj}!",
          f"{q.name} looked at the {colour} {obj} and smiled.")
    s.say(f"\"I love it!\" said {q.name}. \"Thank you!\"",
          f"{q.name} gave {p.name} a big hug. \"It is the best gift ever,\" {q.sub} said.")
    s.say(f"{p.name} felt happy to make {q.pos} friend smile.",
          f"Giving made {p.name} just as happy as {q.name}.")
    ending(s, p, q)


def plot_race(s, p, q, place):
    s.say(f"One day, {p.name} and {q.name} the {q.kind} wanted to have a race.",
          f"{p.name} said to {q.name}, \"Let's race to the big tree!\"")
    s.say(f"\"I am fast,\" said {q.name}. \"I will win!\"", f"{q.name} laughed and said, \"Okay!\"")
    s.say(f"They ran and ran.", f"Ready, set, go! They ran as fast as they could.")
    s.say(f"But {q.name} fell down and hurt {q.pos} knee.", f"Then {q.name} tripped on a rock.")
    s.say(f"{p.name} stopped running. {p.Sub} went back to help {q.pos} friend.",
          f"{p.name} saw {q.name} on the ground and came back.")
    s.say(f"\"Are you okay?\" asked {p.name}.", f"{p.name} asked, \"Does it hurt?\"")
    s.say(f"\"I am okay,\" said {q.name}. \"Thank you for coming back.\"",
          f"{q.name} said, \"It hurts a little, but I am okay.\"")
    s.say(f"They walked to the tree together.", f"They did not finish the race, but they did not care.")
    s.say(f"Being a good friend is better than winning.",
          f"{q.name} learned that friends are more important than winning.")
    ending(s, p, q)


PLOTS = [plot_lost_object, plot_new_friend, plot_fear, plot_sharing, plot_rain,
         plot_help_animal, plot_baking, plot_gift, plot_race]


def make_story(rng):
    used = set()
    p, q = Person(rng, used), Person(rng, used)
    place = rng.choice(PLACES)
    s = Story(rng)
    opening(s, p, place)
    rng.choice(PLOTS)(s, p, q, place)
    text = s.text()
    return text[0].upper() + text[1:]


def generate(seed, n_stories):
    rng = random.Random(seed)
    return [make_story(rng) for _ in range(n_stories)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--stories", type=int, default=12000)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    stories = generate(args.seed, args.stories)
    with open(args.out, "w", encoding="ascii") as f:
        for st in stories:
            f.write(st + "\n")
    n_chars = sum(len(st) + 1 for st in stories)
    print(f"wrote {len(stories)} stories, {n_chars} chars, {len(set(stories))} unique to {args.out}")


if __name__ == "__main__":
    main()
